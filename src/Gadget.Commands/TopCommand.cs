using System.Management.Automation;
using Gadget.Tracing;

namespace Gadget.Commands;

/// <summary>
/// What a top cmdlet adds to every gadget cmdlet's parameters, and the loop that runs one: the agents count in the
/// kernel and send one batch per window; this (the pipeline) thread puts each window's rows from
/// every node together, sorts them by the gadget's main figure, and writes the first -Top of them.
/// </summary>
public abstract class TopCommand : GadgetRunCommand
{
    public const string InvalidIntervalId = "InvalidInterval";

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>The shortest window: each one costs the agent a pass over the kernel's map.</summary>
    private static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(100);

    private static readonly TimeSpan MaxInterval = TimeSpan.FromDays(1);

    /// <summary>Entries lost so far, per node, as already warned of.</summary>
    private readonly Dictionary<string, ulong> _lostReported = new(StringComparer.Ordinal);

    private long _written;

    private long _windows;

    /// <summary>The length of each window: seconds (2), a TimeSpan or 500ms/2s/1m. Default: 1 second.</summary>
    [Parameter(Position = 0)]
    [DurationTransformation]
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Stop after this many windows (default: until stopped, or until -Duration ends).</summary>
    [Parameter(Position = 1)]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; }

    /// <summary>Rows written per window, those with the largest main figure first (default 20); 0 writes them all.</summary>
    [Parameter]
    [ValidateRange(0, int.MaxValue)]
    public int Top { get; set; } = 20;

    /// <summary>Stop after this long: seconds (10), a TimeSpan (00:01:00) or 30s/5m/1h. The window under way when it ends is cut short and written.</summary>
    [Parameter]
    [DurationTransformation]
    public TimeSpan Duration { get; set; }

    /// <summary>Write the run's final counters (a Gadget.TraceStatistics per node) after its rows.</summary>
    [Parameter]
    public SwitchParameter Statistics { get; set; }

    private protected override TimeSpan? RunDuration => MyInvocation.BoundParameters.ContainsKey(nameof(Duration)) ? Duration : null;

    private protected override TimeSpan? RunInterval => Interval;

    private protected override ulong? RunMaxWindows => Count > 0 ? (ulong)Count : null;

    protected override void EndProcessing()
    {
        if (Interval < MinInterval || Interval > MaxInterval)
        {
            ThrowTerminatingError(new ErrorRecord(
                new ArgumentException($"-Interval must lie between {MinInterval.TotalMilliseconds} ms and {MaxInterval.TotalDays} day; it is {Interval}."),
                InvalidIntervalId, ErrorCategory.InvalidArgument, Interval));
        }

        base.EndProcessing();
    }

    private protected override void Run(ITraceSource source, TraceOptions options, IReadOnlyList<string> nodes)
    {
        var merger = new TopWindowMerger(nodes, Top);
        while (!StopToken.IsCancellationRequested)
        {
            if (!source.TryTake(out object? item, PollInterval, StopToken))
            {
                if (source.IsCompleted)
                {
                    break;
                }

                continue;
            }

            switch (item)
            {
                case TopWindowRows window:
                    Write(merger.Add(window));
                    break;
                case TraceStatistics statistics:
                    WarnOfLoss(statistics);
                    if (statistics.Final)
                    {
                        Write(merger.NodeEnded(statistics.Node));
                    }

                    break;
                case NodeFailure failure:
                    WriteError(NodeError(failure));
                    Write(merger.NodeEnded(failure.Node));
                    break;
                case TraceNotice notice:
                    WriteWarning(string.IsNullOrEmpty(notice.Node) ? notice.Message : $"{notice.Node}: {notice.Message}");
                    break;
                case GadgetException exception:
                    ThrowTerminatingError(GadgetErrors.ToErrorRecord(exception, source.Target));
                    break;
            }
        }

        if (!StopToken.IsCancellationRequested)
        {
            Write(merger.Flush());
        }

        ReportEnd(source);
    }

    private void Write(IReadOnlyList<MergedTopWindow> windows)
    {
        foreach (MergedTopWindow window in windows)
        {
            _windows++;
            WriteVerbose($"Window {window.Index}: {window.TotalRows} rows, {window.Rows.Count} written.");
            foreach ((GadgetEvent row, TopWindowRows part) in window.Rows)
            {
                WriteObject(RowObject(row, part));
                _written++;
            }
        }
    }

    /// <summary>A row as the pipeline gets it: a typed row as it is; a row of a top the client has no type for with its window as properties.</summary>
    internal static object RowObject(GadgetEvent row, TopWindowRows window)
    {
        if (row is not GadgetRecord record)
        {
            return row;
        }

        PSObject wrapped = RecordObject.From(record);
        wrapped.Properties.Add(new PSNoteProperty(nameof(GadgetTopRow.IntervalStart), window.Start));
        wrapped.Properties.Add(new PSNoteProperty(nameof(GadgetTopRow.IntervalEnd), window.End));
        return wrapped;
    }

    /// <summary>Warns of the keys a node could not count since its last warning (its map was full).</summary>
    private void WarnOfLoss(TraceStatistics statistics)
    {
        _lostReported.TryGetValue(statistics.Node ?? string.Empty, out ulong reported);
        if (statistics.LostKernel > reported)
        {
            WriteWarning($"{statistics.LostKernel - reported} counts lost{(string.IsNullOrEmpty(statistics.Node) ? string.Empty : " on " + statistics.Node)} " +
                $"(so far: {statistics.LostKernel}): the kernel's map of this top was full, so new keys could not be counted in their window. " +
                "Narrow the top with filters (-Pid, -Comm, -Uid, a container selection) or shorten -Interval.");
            _lostReported[statistics.Node ?? string.Empty] = statistics.LostKernel;
        }
    }

    private void ReportEnd(ITraceSource source)
    {
        foreach (TraceStatistics statistics in source.Statistics)
        {
            WarnOfLoss(statistics);
            WriteVerbose($"Top ended{(string.IsNullOrEmpty(statistics.Node) ? string.Empty : " on " + statistics.Node)}: {statistics.Delivered} rows sent, {statistics.Seen} entries read from the kernel, " +
                $"{statistics.LostKernel} counts lost (map full), {statistics.FilteredAgent} filtered in the agent{(statistics.Final ? string.Empty : " (counters of the last report; the agent sent no final ones)")}.");
            if (Statistics)
            {
                WriteObject(statistics);
            }
        }

        WriteVerbose($"Wrote {_written} rows of {_windows} windows.");
    }
}
