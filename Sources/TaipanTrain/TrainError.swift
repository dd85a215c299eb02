// TrainError.swift — errors a training run reports: bad configuration, a run directory in the
// way, a checkpoint that cannot be resumed, or a run that diverged.

/// An error that stops a run, with a message saying what to do about it.
public enum TrainError: Error, CustomStringConvertible {
    /// A configuration value that cannot work, naming the `section.key`.
    case config(String)
    /// The run directory, a checkpoint or a data file is in the way or unusable.
    case run(String)
    /// Too many steps in a row with a non-finite loss or gradient.
    case diverged(String)
    /// `--resume` found other training data than the run's checkpoints were trained on.
    case dataChanged(runDirectory: String, detail: String)

    public var description: String {
        switch self {
        case .config(let message), .run(let message), .diverged(let message): return message
        case .dataChanged(let runDirectory, let detail):
            return "--resume: the training data changed since the checkpoints of \(runDirectory) were written (\(detail)). "
                + "To continue the run, put back the data it was trained on. To train on the data as it is now, start over: "
                + "run without --resume and with --force (deletes the checkpoints and logs in \(runDirectory)), or set train.run_dir to a new directory"
        }
    }
}
