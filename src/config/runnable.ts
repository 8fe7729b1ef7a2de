// What a run needs beyond a valid file: a predictor type that mlserve serves
// and, for python, a predictor file that exists. validate reports these as
// located errors (loadProject with {runnable: true}); the runtime plan calls
// checkRunnable on each API it starts, so both refuse the same things.
import {statSync} from 'node:fs'
import {isAbsolute, join} from 'node:path'
import {mlserveError, type MlserveError} from '../errors.js'
import type {Project} from './project.js'
import {SERVED_PREDICTOR_TYPES, type ServedApiConfig} from './schema.js'

/** The predictor types `run` can serve. */
export const servedPredictorTypes: readonly string[] = SERVED_PREDICTOR_TYPES

export interface RunProblem {
  /** The predictor field at fault. */
  field: 'type' | 'path'
  /** The located message for validate, after `predictor.<field>: `. */
  text: string
  /** The error the runtime plan throws for it. */
  error: MlserveError
}

/** The fields a run check reads; a file with errors elsewhere may have only some of them. */
export interface RunnableFields {
  name: string
  predictor: {type?: string; path?: string}
}

/** Everything that stops this API from running, in the order a run meets them. */
export function runProblems(api: RunnableFields, dir: string): RunProblem[] {
  const {predictor} = api
  if (predictor.type === undefined) return []
  if (!servedPredictorTypes.includes(predictor.type)) {
    return [
      {
        field: 'type',
        text: `${predictor.type} is a Cortex predictor type mlserve does not serve, so run refuses this API; use type python (a PythonPredictor class) or command (your own HTTP server)`,
        error: mlserveError('MLS_PREDICTOR_TYPE_UNSUPPORTED', {api: api.name, type: predictor.type}),
      },
    ]
  }
  if (predictor.type !== 'python' || predictor.path === undefined) return []
  const absolute = predictorFile(dir, predictor.path)
  const info = statSync(absolute, {throwIfNoEntry: false})
  if (info?.isFile()) return []
  const what = info ? 'is not a file' : 'does not exist'
  return [
    {
      field: 'path',
      text: `${JSON.stringify(predictor.path)} ${what} (looked for ${absolute}); the path is relative to the directory of this file`,
      error: mlserveError('MLS_PREDICTOR_NOT_FOUND', {api: api.name, path: absolute}),
    },
  ]
}

/**
 * Throws the first problem that stops `api` from running (MLS_PREDICTOR_TYPE_UNSUPPORTED,
 * MLS_PREDICTOR_NOT_FOUND); returns the absolute predictor file of a python API.
 */
export function checkRunnable(project: Pick<Project, 'dir'>, api: ServedApiConfig): {predictorPath?: string} {
  const [problem] = runProblems(api, project.dir)
  if (problem) throw problem.error
  return api.predictor.type === 'python' && api.predictor.path !== undefined ? {predictorPath: predictorFile(project.dir, api.predictor.path)} : {}
}

function predictorFile(dir: string, path: string): string {
  return isAbsolute(path) ? path : join(dir, path)
}
