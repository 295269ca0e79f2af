// The scenarios, in report order. Children import a scenario by its file name.
export const scenarioFiles = [
  's1-overhead.mjs',
  's2-parallel-io.mjs',
  's3-ordered-io.mjs',
  's4-memory.mjs',
  's5-teardown.mjs',
  's6-cpu-bound.mjs',
  's7-keyed-io.mjs',
  's8-redis.mjs',
  's9-records.mjs',
];

export const loadScenario = async (file) => (await import(`./${file}`)).default;
