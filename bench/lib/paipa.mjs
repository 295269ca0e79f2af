// Loads paipa from the dist snapshot the orchestrator took (PAIPA_DIST), so a rebuild of dist/
// by someone else in the middle of a run cannot mix two engine versions or crash a child.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const distDir = process.env.PAIPA_DIST ?? fileURLToPath(new URL('../../dist/', import.meta.url));

/** The CommonJS build, as users `require('paipa')` it. */
export const paipa = require(join(distDir, 'index.js'));

/** The paipa/otel subpath, as users `require('paipa/otel')` it. */
export const paipaOtel = require(join(distDir, 'otel', 'index.js'));

/** combinePipeline is being added in parallel: contenders using it are skipped until it exists. */
export const hasCombinePipeline = typeof paipa.combinePipeline === 'function';

/** The paipa/redis subpath (it loads node-redis, an optional peer dependency). */
export const loadPaipaRedis = () => require(join(distDir, 'redis', 'index.js'));
