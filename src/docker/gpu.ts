// Whether, and how, the engine can give containers NVIDIA GPUs, and compute.gpu
// as the engine's device requests.
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {delimiter, join} from 'node:path'
import type Docker from 'dockerode'
import {mlserveError} from '../errors.js'
import {engineAddress, engineIsLocal} from './engine.js'

export interface DockerInfoGpu {
  Runtimes?: Record<string, unknown> | null
  CDISpecDirs?: string[] | null
}

export interface GpuProbes {
  /** nvidia-container-runtime-hook is on the engine's PATH: Docker's built-in `--gpus` support (DeviceRequests with Driver nvidia) uses it. */
  hook: boolean
  /** A CDI spec for nvidia.com/gpu exists in one of the engine's CDI spec directories. */
  cdi: boolean
}

/** How this engine passes NVIDIA GPUs to containers, or null when it cannot. */
export function gpuSupport(info: DockerInfoGpu, probes: GpuProbes): string | null {
  if (info.Runtimes && Object.hasOwn(info.Runtimes, 'nvidia')) return 'the nvidia runtime'
  if (probes.hook) return 'nvidia-container-runtime-hook (docker run --gpus)'
  if (probes.cdi && (info.CDISpecDirs?.length ?? 0) > 0) return 'CDI (nvidia.com/gpu)'
  return null
}

/** Looks on this machine for what a local engine needs for --gpus and CDI. */
function probeGpuSupport(info: DockerInfoGpu): GpuProbes {
  if (!engineIsLocal()) return {hook: false, cdi: false}
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/bin', '/usr/local/bin', '/usr/sbin'])
  const hook = dirs.some((dir) => dir !== '' && existsSync(join(dir, 'nvidia-container-runtime-hook')))
  const cdi = (info.CDISpecDirs ?? []).some((dir) => {
    try {
      return readdirSync(dir).some((file) => /\.(ya?ml|json)$/.test(file) && readFileSync(join(dir, file), 'utf8').includes('nvidia.com/gpu'))
    } catch {
      return false
    }
  })
  return {hook, cdi}
}

/**
 * Fails with MLS_DOCKER_NO_GPU_RUNTIME when the engine cannot give containers
 * NVIDIA GPUs. MLSERVE_DOCKER_GPU_CHECK=0 skips the check, for engines set up
 * in a way it does not recognise.
 */
export async function checkGpuSupport(docker: Docker, apis: string[]): Promise<string> {
  if (process.env.MLSERVE_DOCKER_GPU_CHECK === '0') return 'not checked (MLSERVE_DOCKER_GPU_CHECK=0)'
  const info = (await docker.info()) as DockerInfoGpu
  const how = gpuSupport(info, probeGpuSupport(info))
  if (how !== null) return how
  const runtimes = Object.keys(info.Runtimes ?? {}).sort()
  throw mlserveError('MLS_DOCKER_NO_GPU_RUNTIME', {apis, address: engineAddress(), runtimes})
}

/** compute.gpu as the engine's DeviceRequests: exactly the replica's assigned GPUs, by index. */
export function gpuDeviceRequests(gpus: string[]): Docker.DeviceRequest[] | undefined {
  if (gpus.length === 0) return undefined
  return [{Driver: 'nvidia', DeviceIDs: [...gpus], Capabilities: [['gpu']]}]
}
