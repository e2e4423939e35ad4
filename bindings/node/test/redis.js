'use strict';
// Test fixture: a real redis-server on a free loopback port (never a mock).
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/** Start redis-server; resolves {port, url, cli(...args), stop(), kill()}. */
async function startRedis(...extra) {
  const binary = process.env.REDIS_SERVER_BIN || 'redis-server';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stratacache-node-redis-'));
    const proc = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', dir, ...extra], { stdio: 'ignore' });
    let exited = false;
    proc.on('exit', () => { exited = true; });
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !exited) {
      if (await canConnect(port)) {
        const server = {
          port,
          url: `redis://127.0.0.1:${port}/0`,
          cli: (...args) => execFileSync('redis-cli', ['-p', String(port), ...args]).toString().trim(),
          async stop() {
            if (!exited) {
              const done = new Promise((r) => proc.once('exit', r));
              proc.kill('SIGKILL');
              await done;
            }
            fs.rmSync(dir, { recursive: true, force: true });
          },
        };
        return server;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    proc.kill('SIGKILL');
  }
  throw new Error('could not start redis-server');
}

module.exports = { startRedis };
