// The contract between an image that `mlserve build` makes and the Docker
// replica driver that runs it. The runtime owns it because the runtime owns the
// harness; build imports it to write the Dockerfile.
import {relative} from 'node:path'
import type {ReplicaSpec} from './replica.js'

/** Where the harness lives inside an image. */
export const HARNESS_IN_IMAGE = '/opt/mlserve/mlserve_harness.py'
/** The project's code inside an image; the harness runs with it as cwd. */
export const APP_DIR_IN_IMAGE = '/app'
/** The port a replica container listens on. */
export const CONTAINER_PORT = 8080
/** Written by the harness once every process has loaded the predictor; read by HEALTHCHECK. */
export const STATUS_FILE_IN_IMAGE = '/tmp/mlserve-ready'

/**
 * The environment a replica container gets. Processes, threads, the
 * predictor's config and batching come from mlserve.yaml at run time, so one
 * image serves any concurrency setting.
 */
export function containerEnv(spec: ReplicaSpec): Record<string, string> {
  const env: Record<string, string> = {
    ...spec.env,
    PYTHONUNBUFFERED: '1',
    MLSERVE_HOST: '0.0.0.0',
    MLSERVE_PORT: String(CONTAINER_PORT),
    PORT: String(CONTAINER_PORT),
    MLSERVE_API: spec.api,
    MLSERVE_NAME: spec.api,
    MLSERVE_REPLICA: String(spec.index),
    MLSERVE_PROCESSES: String(spec.processes),
    MLSERVE_THREADS: String(spec.threads),
    WEB_CONCURRENCY: String(spec.processes),
    MLSERVE_PROJECT_DIR: APP_DIR_IN_IMAGE,
    MLSERVE_CONFIG_JSON: JSON.stringify(spec.predictorConfig),
    MLSERVE_MAX_BODY_BYTES: String(spec.maxBodyBytes),
    MLSERVE_STATUS_FILE: STATUS_FILE_IN_IMAGE,
    MLSERVE_WATCH_STDIN: '0',
  }
  if (spec.predictorPath) env.MLSERVE_PREDICTOR = relative(spec.projectDir, spec.predictorPath)
  if (spec.batching) {
    env.MLSERVE_BATCH_MAX_SIZE = String(spec.batching.maxBatchSize)
    env.MLSERVE_BATCH_INTERVAL_MS = String(spec.batching.intervalMs)
  }
  return env
}
