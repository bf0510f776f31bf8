/** HAP callbacks must be answered exactly once, even when the work behind them fails or races. */
export function once<A extends unknown[]>(callback: (...args: A) => void, onSecondCall?: () => void): (...args: A) => void {
  let called = false;
  return (...args: A) => {
    if (called) {
      onSecondCall?.();
      return;
    }
    called = true;
    callback(...args);
  };
}
