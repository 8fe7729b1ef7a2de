// Moved to the harness's door, src/runtime/harness/index.ts; this file goes once its importers have moved.
export {APP_DIR_IN_IMAGE, CONTAINER_PORT, HARNESS_IN_IMAGE, STATUS_FILE_IN_IMAGE, containerEnv} from './harness/index.js'
