"""Type stub of ``stratacache._version``, which CMake generates into the wheel from
CMakeLists.txt's project version (cmake/_version.py.in)."""

__version__: str
