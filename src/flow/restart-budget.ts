/**
 * How many times a step may restart an instance: at most `max` restarts within any `withinMs`.
 * One more than that means the failure is not a passing one (a database that is down, a bad
 * credential), and the run fails instead of restarting in a loop.
 */
export class RestartBudget {
  readonly #times: number[] = [];

  constructor(
    readonly max: number,
    readonly withinMs: number,
  ) {}

  /** Records a restart at `now`; false when it is one more than the budget allows. */
  spend(now: number): boolean {
    const times = this.#times;
    while (times.length > 0 && now - times[0] >= this.withinMs) times.shift();
    if (times.length >= this.max) return false;
    times.push(now);
    return true;
  }
}
