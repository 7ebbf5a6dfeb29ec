import { useCallback, useEffect, useRef, useState } from 'react';
import type { ResolverError } from '../../../../src/forge/contract';
import { errorDetail } from '../api';

/**
 * What every page does with the data it shows: reads it on opening, keeps the last read's error (a
 * good read clears it) and reads again on demand: Try again, after a job, after a change elsewhere.
 *
 * `onRead` runs in the same update as the new data, so whatever it sets (the job a page follows)
 * never shows a moment apart from the data it came with; what it returns is what `reload` resolves to.
 */
export function usePageData<T, C = undefined>(
  read: () => Promise<T>,
  onRead?: (next: T, context: C | undefined) => boolean | void,
) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ResolverError | null>(null);
  const latest = useRef({ read, onRead });
  latest.current = { read, onRead };

  const reload = useCallback(async (context?: C): Promise<boolean> => {
    try {
      const next = await latest.current.read();
      setData(next);
      setError(null);
      return latest.current.onRead?.(next, context) === true;
    } catch (err) {
      setError(errorDetail(err));
      return false;
    }
  }, []);

  useEffect(() => {
    void reload();
  }, [reload]);

  return { data, setData, error, setError, reload };
}
