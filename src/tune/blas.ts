// BLAS/OpenMP threads per process. numpy's BLAS, PyTorch and scikit-learn's
// joblib start a pool as large as the machine for every process, so 2
// processes × 2 threads of such a predictor can run 8 busy threads on 2
// cores. Tune sweeps the pool's size where the predictor imports one of
// them and its env does not already fix it.
import {readFileSync} from 'node:fs'

export const BLAS_ENV = ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'] as const

const BLAS_IMPORT = /^\s*(?:import|from)\s+(numpy|scipy|torch|sklearn|tensorflow|onnxruntime)\b/m

/** The library that brings a BLAS/OpenMP pool, or null. */
export function blasLibrary(predictorSource: string): string | null {
  return BLAS_IMPORT.exec(predictorSource)?.[1] ?? null
}

/** The BLAS thread counts to sweep: null (the library's default pool) and 1, 2, 4, … up to the replica's CPUs; [null] when not swept. */
export function blasCandidates(options: {predictorPath: string | null; env: Record<string, string>; cpus: number; sweep?: boolean}): {values: Array<number | null>; library: string | null} {
  if (options.sweep === false || !options.predictorPath) return {values: [null], library: null}
  if (BLAS_ENV.some((name) => options.env[name] !== undefined)) return {values: [null], library: null}
  let source: string
  try {
    source = readFileSync(options.predictorPath, 'utf8')
  } catch {
    return {values: [null], library: null}
  }
  const library = blasLibrary(source)
  if (!library) return {values: [null], library: null}
  const values: Array<number | null> = []
  for (let n = 1; n <= Math.max(1, options.cpus); n *= 2) values.push(n)
  values.push(null)
  return {values, library}
}
