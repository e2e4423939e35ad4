// C ABI implementation (in progress)
