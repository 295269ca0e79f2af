// What the figures were measured on: they mean nothing without it.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

const git = (...args) => {
  try {
    return execFileSync('git', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
};

export function describeMachine() {
  const cpuList = cpus();
  const dirtySrc = git('status', '--porcelain', '--', 'src').length > 0;
  return {
    cpu: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    commit: git('rev-parse', '--short', 'HEAD') + (dirtySrc ? ' + uncommitted src/ changes' : ''),
  };
}
