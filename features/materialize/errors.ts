/**
 * Materialization failures that are not a Parquet error (ParquetSchemaError / ParquetReadError /
 * SourceReadError name the file and column) nor a store error (StoreUnavailableError). Each says
 * what to do; none carries entity key values.
 */
export class MaterializationError extends Error {
  override readonly name: string = 'MaterializationError';
}

/** A unit's file differs from what was planned (replaced or rewritten since); re-plan the window. */
export class SourceChangedError extends MaterializationError {
  override readonly name = 'SourceChangedError';
  constructor(
    readonly location: string,
    message: string,
  ) {
    super(`${location}: ${message}`);
  }
}

/** Invalid options: an --end that is not a time, an unknown view, a window that runs backwards. */
export class MaterializationOptionsError extends MaterializationError {
  override readonly name = 'MaterializationOptionsError';
}
