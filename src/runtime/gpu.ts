// GPU passthrough for the process driver: each replica that asks for
// compute.gpu N gets N GPUs of its own through CUDA_VISIBLE_DEVICES, assigned
// from the GPUs that nvidia-smi reports.
import {execa} from 'execa'
import {mlserveError} from '../errors.js'
import {plural} from '../plural.js'

export interface GpuInfo {
  index: string
  uuid: string
  name: string
  memoryMiB: number | null
}

/** Lists the GPUs nvidia-smi reports; throws MLS_GPU_UNAVAILABLE when there is no driver. */
export async function listGpus(requested: number, nvidiaSmi = process.env.MLSERVE_NVIDIA_SMI ?? 'nvidia-smi'): Promise<GpuInfo[]> {
  const result = await execa(nvidiaSmi, ['--query-gpu=index,uuid,name,memory.total', '--format=csv,noheader,nounits'], {
    reject: false,
    timeout: 15_000,
  })
  if (result.failed || result.exitCode !== 0) {
    const detail =
      (result as {code?: string}).code === 'ENOENT'
        ? 'nvidia-smi was not found, so this machine has no NVIDIA driver.'
        : `nvidia-smi failed: ${String(result.stderr || result.stdout || result.shortMessage).trim()}`
    throw mlserveError('MLS_GPU_UNAVAILABLE', {requested, available: 0, detail})
  }
  return parseGpuList(String(result.stdout))
}

export function parseGpuList(csv: string): GpuInfo[] {
  return csv
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const [index, uuid, name, memory] = line.split(',').map((field) => field.trim())
      const memoryMiB = Number(memory)
      return {index, uuid, name, memoryMiB: Number.isFinite(memoryMiB) ? memoryMiB : null}
    })
}

/**
 * Gives each replica its own GPUs, in order: `perReplica[i]` devices for
 * replica i. Asking for more than exist is an error before anything starts,
 * as in a cluster a pod that cannot be scheduled never starts.
 */
export function assignGpus(gpus: GpuInfo[], perReplica: number[]): string[][] {
  const needed = perReplica.reduce((sum, n) => sum + n, 0)
  if (needed > gpus.length) {
    const listed = gpus.length > 0 ? ` (${gpus.map((g) => `${g.index}: ${g.name}`).join('; ')})` : ''
    throw mlserveError('MLS_GPU_UNAVAILABLE', {
      requested: needed,
      available: gpus.length,
      detail: `${plural(perReplica.length, 'replica')} ${perReplica.length === 1 ? 'needs' : 'need'} ${plural(needed, 'GPU')} in all, and nvidia-smi lists ${gpus.length}${listed}.`,
    })
  }
  let offset = 0
  return perReplica.map((n) => {
    const devices = gpus.slice(offset, offset + n).map((g) => g.index)
    offset += n
    return devices
  })
}
