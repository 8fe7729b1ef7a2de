// The Docker part: the engine's client, image lookup, mlserve's containers
// (ownership labels, the sweep of stale ones, a short-lived run), GPU support
// and resource limits, and the one label map. Image building (src/image) and
// the runtime's docker driver use the engine only through this door.
export {connectDocker, dockerClient, engineMessage, pingDocker} from './engine.js'
export {lookupImage, newestImageOf} from './images.js'
export {demuxLogs, ownerAlive, ownerLabels, processStartTicks, removeContainer, runOnce, sweepStaleContainers} from './containers.js'
export {checkGpuSupport, gpuDeviceRequests, gpuSupport} from './gpu.js'
export {containerLimits, type ContainerLimits} from './limits.js'
export {LABELS} from './labels.js'
