// A forked consumer process of scenario 8, started before the timed runs and kept for them
// (a worker fleet is long-lived: its start-up is not part of its rate). For each run the parent
// sends `{ run: { url, stream, group, consumer, work } }`: it reads its share of the stream
// through redisStreamSource → mix → collect, reports how many entries it has done (every 5 ms)
// so the parent knows when the whole stream is done, closes its source on 'close', then sends
// its outputs and the source's counters. It exits once the parent disconnects.
import { loadPaipaRedis, paipa } from '../lib/paipa.mjs';
import { stepFor, SOURCE_OPTIONS } from './redis-work.mjs';

const { redisStreamSource } = loadPaipaRedis();
let source = null;

async function run({ url, stream, group, consumer, work }) {
  source = redisStreamSource({ url, stream, group, consumer, ...SOURCE_OPTIONS });
  const outputs = [];
  let reported = 0;
  const progress = setInterval(() => {
    if (outputs.length === reported) return;
    reported = outputs.length;
    process.send({ done: reported });
  }, 5);
  try {
    const p = new paipa.Pipeline([stepFor(work), (h) => void outputs.push(h)]);
    p.putIterable(source);
    await p.run();
    process.send({ outputs, stats: source.stats });
  } catch (err) {
    process.send({ error: String(err?.stack ?? err) });
  } finally {
    clearInterval(progress);
    source = null;
  }
}

process.on('message', (message) => {
  if (message === 'close') void source?.close();
  else if (message.run) void run(message.run);
});
process.send('ready');
