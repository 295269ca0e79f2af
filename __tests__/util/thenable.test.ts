/**
 * isThenable answers plain objects with an own-property check first (a faster path for the
 * records steps return); the answer must stay the one promise resolution gives.
 */
import { isThenable } from '../../src/util/thenable';

const noop = () => {};

describe('isThenable', () => {
  test('a plain object without then is not a thenable', () => {
    expect(isThenable({ id: 1, text: 'x' })).toBe(false);
  });

  test('a plain object with its own then function is a thenable', () => {
    expect(isThenable({ then: noop })).toBe(true);
  });

  test('a plain object whose then is not a function is not a thenable', () => {
    expect(isThenable({ then: 42 })).toBe(false);
  });

  test('a native promise and a class instance with then on its prototype are thenables', () => {
    class Ticket {
      then(): void {}
    }
    expect(isThenable(Promise.resolve(1))).toBe(true);
    expect(isThenable(new Ticket())).toBe(true);
  });

  test('an object without a prototype is checked by its own then', () => {
    const bare = Object.create(null) as Record<string, unknown>;
    expect(isThenable(bare)).toBe(false);
    bare.then = noop;
    expect(isThenable(bare)).toBe(true);
  });

  test('a proxy that answers then from its get trap is a thenable', () => {
    const proxy = new Proxy({}, { get: (_t, key) => (key === 'then' ? noop : undefined) });
    expect(isThenable(proxy)).toBe(true);
  });

  test('a function with a then method is a thenable; primitives and null are not', () => {
    expect(isThenable(Object.assign(() => 1, { then: noop }))).toBe(true);
    expect(isThenable(() => 1)).toBe(false);
    for (const value of [null, undefined, 0, 'then', true]) expect(isThenable(value)).toBe(false);
  });

  test('a then put on Object.prototype makes every plain object a thenable, as for promises', () => {
    const proto = Object.prototype as { then?: unknown };
    let answer: boolean;
    // Asserted after the delete: jest's own promises would adopt the new then.
    proto.then = noop;
    try {
      answer = isThenable({ id: 1 });
    } finally {
      delete proto.then;
    }
    expect(answer).toBe(true);
    expect(isThenable({ id: 1 })).toBe(false);
  });
});
