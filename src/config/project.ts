// A loaded config file and the helpers the rest of mlserve uses to pick APIs from it.
import {isAbsolute, relative, resolve} from 'node:path'
import {mlserveError} from '../errors.js'
import type {ApiConfig, AsyncApiConfig, RealtimeApiConfig, ServedApiConfig, TrafficSplitterConfig} from './schema.js'

export interface ConfigWarning {
  /** The file as shown to the user (relative to the working directory when inside it). */
  file: string
  line: number
  column: number
  /** The field, as the user wrote it: `predictor.models`, or `api "iris" › handler.models` in a list file. */
  path: string
  /** The full warning, naming the field. */
  message: string
}

export interface Project {
  /** Absolute path of the config file. */
  file: string
  /** Absolute path of the directory that holds it; relative paths in the config resolve against it. */
  dir: string
  apis: ApiConfig[]
  warnings: ConfigWarning[]
}

/** The file as shown in messages: relative to the working directory when inside it, else absolute. */
export function displayPath(file: string): string {
  const abs = resolve(file)
  const rel = relative(process.cwd(), abs)
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs
}

/** `mlserve.yaml:9:5: predictor.models is a Cortex field …` */
export function formatWarning(warning: ConfigWarning): string {
  return `${warning.file}:${warning.line}:${warning.column}: ${warning.message}`
}

export function realtimeApis(project: Project): RealtimeApiConfig[] {
  return project.apis.filter((api): api is RealtimeApiConfig => api.kind === 'RealtimeAPI')
}

export function asyncApis(project: Project): AsyncApiConfig[] {
  return project.apis.filter((api): api is AsyncApiConfig => api.kind === 'AsyncAPI')
}

/** The APIs that run replicas: RealtimeAPIs and AsyncAPIs, in file order. */
export function servedApis(project: Project): ServedApiConfig[] {
  return project.apis.filter((api): api is ServedApiConfig => api.kind !== 'TrafficSplitter')
}

export function trafficSplitters(project: Project): TrafficSplitterConfig[] {
  return project.apis.filter((api): api is TrafficSplitterConfig => api.kind === 'TrafficSplitter')
}

/**
 * The RealtimeAPI named `name`; without a name, the file's only RealtimeAPI.
 * Throws MLS_API_NOT_FOUND, MLS_API_AMBIGUOUS (several and no name) or
 * MLS_NO_REALTIME_API (the file holds only TrafficSplitters).
 */
export function selectApi(project: Project, name?: string): RealtimeApiConfig {
  return selectFrom(realtimeApis(project), project, name)
}

/** As selectApi, among the APIs that run replicas (RealtimeAPIs and AsyncAPIs): what `mlserve build` builds an image for. */
export function selectServedApi(project: Project, name?: string): ServedApiConfig {
  return selectFrom(servedApis(project), project, name)
}

function selectFrom<A extends ServedApiConfig>(apis: A[], project: Project, name?: string): A {
  const available = apis.map((api) => api.name)
  if (name !== undefined) {
    const api = apis.find((a) => a.name === name)
    if (!api) throw mlserveError('MLS_API_NOT_FOUND', {name, file: displayPath(project.file), available})
    return api
  }
  if (apis.length === 1) return apis[0]
  if (apis.length === 0) throw mlserveError('MLS_NO_REALTIME_API', {file: displayPath(project.file)})
  throw mlserveError('MLS_API_AMBIGUOUS', {file: displayPath(project.file), available})
}
