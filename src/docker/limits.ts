// An API's compute section as hard limits on its containers.
import {parseCpuMillicores, parseMemoryBytes, type ComputeConfig} from '../config/index.js'

export interface ContainerLimits {
  /** compute.cpu, in billionths of a CPU. */
  NanoCpus?: number
  /** compute.mem, in bytes. */
  Memory?: number
  /** compute.shm: the size of /dev/shm, in bytes. */
  ShmSize?: number
}

/** compute.cpu and compute.mem as hard limits on the container (compute.shm sizes /dev/shm). */
export function containerLimits(compute: Pick<ComputeConfig, 'cpu' | 'mem'> & {shm?: ComputeConfig['shm']}): ContainerLimits {
  const limits: ContainerLimits = {}
  if (compute.cpu !== null && compute.cpu !== undefined) limits.NanoCpus = parseCpuMillicores(compute.cpu) * 1_000_000
  if (compute.mem !== null && compute.mem !== undefined) limits.Memory = parseMemoryBytes(compute.mem)
  if (compute.shm !== null && compute.shm !== undefined) limits.ShmSize = parseMemoryBytes(compute.shm)
  return limits
}
