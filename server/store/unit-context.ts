import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The unit a piece of work runs inside, if any, switched on only while some unit is open.
 *
 * On Node 20 an enabled AsyncLocalStorage installs promise hooks that make every promise of the
 * process about three times slower to create and settle (HTTP, Apollo, graphql-jit, dataloader),
 * not only the promises of the unit's own work. Between units nothing needs the context: the
 * storage is disabled when the last open unit ends, and `current()` answers undefined, as it
 * would anyway, until the next unit starts. (`disable()` is marked experimental in Node 20 and
 * 22; test/store/unit-context.test.ts checks the hooks stop.)
 */
export class UnitContext<T extends object> {
  private readonly storage = new AsyncLocalStorage<T>();
  private open = 0;

  current(): T | undefined {
    return this.storage.getStore();
  }

  async run<R>(unit: T, work: () => Promise<R>): Promise<R> {
    this.open += 1;
    try {
      return await this.storage.run(unit, work);
    } finally {
      this.open -= 1;
      if (this.open === 0) this.storage.disable();
    }
  }
}
