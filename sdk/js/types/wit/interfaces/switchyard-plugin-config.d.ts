declare module 'switchyard:plugin/config@0.2.2' {
  /**
   * One setting, if set.
   */
  export function get(key: string): string | undefined;
  /**
   * Every setting, sorted by key.
   */
  export function getAll(): Array<[string, string]>;
}
