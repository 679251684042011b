using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Threading.Channels;
using Gadget.Agent.Containers;
using Gadget.Agent.Decoding;
using Gadget.Agent.Gadgets;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Gadget.Schema;
using WellKnownType = Gadget.Schema.WellKnownType;

namespace Gadget.Agent.Runtime;

/// <summary>Agent-wide settings a trace needs.</summary>
internal sealed record TraceSettings
{
    public string KernelBtfPath { get; init; } = BpfOpenOptions.DefaultKernelBtfPath;

    /// <summary>Every trace's ring size in bytes (<c>--ring-bytes</c>), or null for each gadget's own (see <see cref="RingSize"/>).</summary>
    public uint? RingBytes { get; init; }

    /// <summary>The programs wake the reader once this much waits; the poll interval covers the rest.</summary>
    public ulong WakeupBytes { get; init; } = 256u << 10;

    /// <summary>The ring is drained at least this often: the longest an event of a quiet trace waits.</summary>
    /// <remarks>
    /// A flood does not wait for the timer: the programs wake the reader every WakeupBytes. At
    /// 10 ms, when every drain still handed a batch to the stream, an exec storm traced at 350
    /// events/s saw 78 k context switches in its 6 s against 10 k untraced and ran 25-40 % slower;
    /// at 50 ms, 24 k and 13-20 %.
    /// </remarks>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>A batch that is not full is handed to the stream at most this often; the first after a quiet spell goes at once.</summary>
    /// <remarks>
    /// Each batch wakes threads in the agent and in the client, and the client's thread pool spins
    /// before it sleeps (a module cannot turn that off in a running pwsh). A steady exec storm of
    /// 400 events/s, 3,000 execs: with a batch per 50 ms drain the client switched context 16-21 k
    /// times, with this interval 5.4-7.6 k. A lone event still leaves with the drain that found
    /// it, and full batches never wait.
    /// </remarks>
    public TimeSpan PartialBatchInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Bound of the queue between the ring reader and the stream, in events.</summary>
    public int MaxQueuedEvents { get; init; } = 64 * 1024;

    /// <summary>A batch is handed to the stream when it holds this many events or this many record bytes.</summary>
    public int MaxBatchEvents { get; init; } = 2048;

    public int MaxBatchBytes { get; init; } = 1 << 20;
}

/// <summary>
/// The size of a trace's ring. Each gadget declares its own in its object (the ring map's
/// max_entries: <c>GADGET_TRACER_MAP(events, size)</c>, or <c>GADGET_RING_SIZE</c> for the
/// built-in ones), for its rate: what the ring holds is how long the reader may go unscheduled
/// before the kernel drops records. The reader maps the ring twice (for reads across its end), so
/// an idle trace costs the agent twice its ring in resident memory: an exec trace does not need
/// the 8 MiB a 500 k events/s flood does (about 45 ms of it).
/// </summary>
internal static class RingSize
{
    /// <summary>The smallest ring: one page (the kernel's minimum).</summary>
    public static readonly uint Minimum = (uint)Environment.SystemPageSize;

    /// <summary>The largest ring a gadget may ask for: the largest any built-in gadget needs (open, flood), so <c>--max-traces</c> bounds the agent's memory whatever the programs declare.</summary>
    public const uint Maximum = 8u << 20;

    /// <summary>
    /// The ring of a gadget whose object declares <paramref name="declared"/> bytes: rounded up to
    /// a power of two of pages and capped at <see cref="Maximum"/>; <paramref name="overridden"/>
    /// (the agent's <c>--ring-bytes</c>) instead when given, rounded up the same way.
    /// </summary>
    public static uint For(uint declared, uint? overridden = null)
    {
        if (overridden is uint every)
        {
            return RoundUp(every);
        }

        return Math.Min(RoundUp(declared), Maximum);
    }

    /// <summary>When the programs wake the reader: at <paramref name="wanted"/> bytes waiting, or at a quarter of a smaller ring, so it wakes well before the ring fills.</summary>
    public static ulong WakeupBytes(uint ringBytes, ulong wanted) => Math.Min(wanted, ringBytes / 4);

    private static uint RoundUp(uint bytes)
        => bytes <= Minimum ? Minimum : bytes > (1u << 31) ? 1u << 31 : System.Numerics.BitOperations.RoundUpToPowerOf2(bytes);
}

/// <summary>
/// One running gadget for one client: the loaded object, its links, the ring reader, and the
/// bounded queue of row batches towards the stream. Any gadget runs through here alike: its BTF
/// says what a record holds, its hook (if any) adds what BTF cannot. Disposing tears down in the
/// only safe order: stop and join the reader, free the ring, detach the links, close the object.
/// </summary>
internal sealed class TraceRun : IRingRecordSink, IDisposable
{

    /// <summary>The pid set of a trace over several processes (bpf/include/gadget/common.h).</summary>
    public const string PidFilterMap = "gadget_pid_filter";

    /// <summary>Processes a trace follows by pid at most: the map's size.</summary>
    public const int MaxPids = 1024;

    /// <summary>Idle batches kept for reuse at most.</summary>
    private const int MaxFreeBatches = 8;

    /// <summary>How often the end of a trace checks what is still pending.</summary>
    private static readonly TimeSpan SettleInterval = TimeSpan.FromMilliseconds(100);

    private readonly BpfObject _bpf;
    private SnapshotObjectPool? _pool;
    private string? _poolKey;
    private string[] _requestMaps = [];
    private bool _snapshotCompleted;
    private readonly List<BpfLink> _links = [];
    private readonly RecordDecoder _decoder;
    private readonly RecordHook? _hook;
    private readonly Channel<RowBatch> _batches = Channel.CreateUnbounded<RowBatch>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly ConcurrentQueue<RowBatch> _freeBatches = new();
    private readonly TraceSettings _settings;
    private readonly ContainerTracker _containers;
    private readonly HashSet<ulong> _announced = [];
    private readonly List<byte[]> _synthesizedScratch = [];
    private readonly Action<byte[], ContainerTracker.Verdict, ContainerRecord?> _release;
    private readonly bool _dropWhenFull;
    private readonly int _rowMountNsOffset;
    private RingBufferReader? _reader;
    private BpfMap _lostMap;
    private bool _hasLostMap;
    private RowBatch _current;
    private long _queuedEvents;
    private long _seen;
    private long _lostAgent;
    private long _filteredAgent;
    private long _malformed;
    private long _synthesized;
    private ulong _lostKernel;
    private bool _disposed;
    private bool _readerStopped;
    private long _lastHandOverMs = long.MinValue / 2;

    private TraceRun(GadgetDefinition gadget, BpfObject bpf, TraceRequest request, TraceSettings settings, ContainerTracker containers)
    {
        Gadget = gadget;
        _bpf = bpf;
        _decoder = new RecordDecoder(gadget.Schema, gadget.Record.MinimumRecordSize);
        _hook = gadget.Hook?.CreateRecordHook(request, gadget.Schema, bpf);
        _current = new RowBatch();
        _settings = settings;
        _containers = containers;
        _release = Release;
        _rowMountNsOffset = gadget.Schema.First(WellKnownType.MountNsId) is { IsFixed: true } mountNs ? mountNs.Offset : -1;

        // A hook that pairs records (a DNS query with its response) must see every one of them.
        _dropWhenFull = _hook is not { NeedsEveryRecord: true };
    }

    public GadgetDefinition Gadget { get; }

    /// <summary>What the rows hold; the stream sends it first.</summary>
    public TraceSchema Schema => Gadget.Schema;

    /// <summary>Batches ready for the stream.</summary>
    public ChannelReader<RowBatch> Batches => _batches.Reader;

    /// <summary>A notice for the user at the start (the selection matches no container yet), or null.</summary>
    public string? StartNotice => !_containers.MatchesNothingYet
        ? null
        : Gadget.IsSnapshot
            ? $"No container matches the selection ({_containers.SelectionText}); the snapshot lists none."
            : $"No container matches the selection ({_containers.SelectionText}) yet; the trace keeps watching for one.";

    /// <summary>Loads, configures and attaches the gadget's programs and starts reading.</summary>
    /// <remarks>A snapshot's iterators have run by the time it returns: its rows are queued and the queue is complete.</remarks>
    /// <param name="gadget">What to run.</param>
    /// <param name="request">The client's parameters, filters and selection.</param>
    /// <param name="settings">The agent's settings.</param>
    /// <param name="containers">The node's containers, for selection and pod fields.</param>
    /// <param name="pool">Where a snapshot takes a loaded object of its configuration and leaves it after; null to load anew.</param>
    public static TraceRun Start(GadgetDefinition gadget, TraceRequest request, TraceSettings settings, ContainerCollection containers, SnapshotObjectPool? pool = null)
    {
        GadgetParameters.CheckKnown(request, gadget);
        KernelFilesystems.EnsureMounted();
        BpfObject bpf = BpfObject.Open(gadget.Program, gadget.Name, new BpfOpenOptions { KernelBtfPath = settings.KernelBtfPath });
        TraceRun? run = null;
        try
        {
            var selection = new ContainerSelection(request.Selector);
            ProgramConventions conventions = ProgramConventions.Of(gadget, bpf);
            conventions.SetProcessFilter(bpf, request.Filter);
            if (conventions.FilterFlag is string filterFlag)
            {
                bpf.SetConstant(filterFlag, selection.IsFiltering);
            }

            if (!gadget.IsSnapshot)
            {
                // The ring the object declares, rounded to pages and capped; --ring-bytes overrides it.
                uint ringBytes = RingSize.For(bpf.GetMaxEntries(gadget.Tracer.MapName), settings.RingBytes);
                bpf.SetMaxEntries(gadget.Tracer.MapName, ringBytes);
                if (bpf.HasConstant("gadget_wakeup_bytes"))
                {
                    bpf.SetConstant("gadget_wakeup_bytes", RingSize.WakeupBytes(ringBytes, settings.WakeupBytes));
                }
            }

            GadgetParameters.SetProgramParameters(bpf, request, gadget);
            gadget.Hook?.Configure(bpf, request);
            string? poolKey = pool is null ? null : SnapshotObjectPool.KeyFor(gadget, bpf);
            bool loaded = false;
            if (poolKey is not null && pool!.TryTake(poolKey, out BpfObject kept))
            {
                // Configured alike, so loaded alike: use the kept object, drop the fresh one.
                bpf.Dispose();
                bpf = kept;
                loaded = true;
            }

            run = new TraceRun(gadget, bpf, request, settings, new ContainerTracker(containers, selection));
            if (poolKey is not null)
            {
                run._pool = pool;
                run._poolKey = poolKey;
                run._requestMaps = conventions.FilterMap is string map ? [PidFilterMap, map] : [PidFilterMap];
            }

            if (!loaded)
            {
                bpf.Load();
            }

            run._hook?.OnLoaded(bpf);
            FillPidFilter(bpf, request.Filter);
            if (conventions.FilterMap is string filterMap)
            {
                run._containers.Attach(bpf.GetMap(filterMap), presenceSelects: conventions.FilterMapByPresence);
            }

            if (gadget.Snapshot is SnapshotInfo snapshot)
            {
                run.RunSnapshot(snapshot);
                return run;
            }

            string lostMap = gadget.Tracer.MapName + "_lost_samples";
            if (bpf.HasMap(lostMap))
            {
                run._lostMap = bpf.GetMap(lostMap);
                run._hasLostMap = true;
            }

            run._reader = new RingBufferReader(bpf.GetMap(gadget.Tracer.MapName), run, settings.PollInterval);
            foreach (BpfProgramInfo program in bpf.Programs.Where(p => p.Autoload))
            {
                run._links.Add(Attach(bpf, program));
            }

            run._reader.Start();
            return run;
        }
        catch
        {
            if (run is not null)
            {
                run.Dispose();
            }
            else
            {
                bpf.Dispose();
            }

            throw;
        }
    }

    /// <summary>Most bytes one snapshot's iterators may write.</summary>
    private const int MaxSnapshotBytes = 64 << 20;

    /// <summary>How long a snapshot's rows from unknown mount namespaces wait for a container scan.</summary>
    private static readonly TimeSpan SnapshotHoldLimit = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Runs a snapshot's iterators once, in order, and queues their records: each iterator writes
    /// whole records of the snapshot's struct with bpf_seq_write. The queue is then complete.
    /// </summary>
    private void RunSnapshot(SnapshotInfo snapshot)
    {
        int recordSize = snapshot.Record.Size;
        IEnumerable<byte[]> outputs = _hook is null
            ? snapshot.Programs.Select(program => _bpf.RunIterator(program, MaxSnapshotBytes))
            : _hook.RunIterators(_bpf, snapshot.Programs, MaxSnapshotBytes);
        foreach (byte[] output in outputs)
        {
            int whole = output.Length / recordSize * recordSize;
            for (int offset = 0; offset < whole; offset += recordSize)
            {
                ((IRingRecordSink)this).OnRecord(output.AsSpan(offset, recordSize));
            }

            if (whole != output.Length)
            {
                _malformed++; // a partial record at the end
            }
        }

        long waitUntil = Environment.TickCount64 + (long)SnapshotHoldLimit.TotalMilliseconds;
        while (_containers.HeldCount > 0 && Environment.TickCount64 < waitUntil)
        {
            // A scan takes milliseconds; the whole snapshot waits on it, so look often.
            Thread.Sleep(5);
            _containers.ReleaseHeld(_release);
        }

        _containers.ReleaseHeld(_release, all: true);
        if (_current.Count > 0)
        {
            HandOver();
        }

        _readerStopped = true;
        _snapshotCompleted = true;
        _batches.Writer.TryComplete();
    }

    /// <summary>Attaches a program where its section says: cgroup programs to the root of the cgroup v2 tree (every socket on the host), the rest to their hook.</summary>
    private static BpfLink Attach(BpfObject bpf, BpfProgramInfo program)
        => program.Section.StartsWith("cgroup_skb/", StringComparison.Ordinal) || program.Section.StartsWith("cgroup/", StringComparison.Ordinal)
            ? bpf.AttachCgroup(program.Name, KernelFilesystems.Cgroup2Root())
            : bpf.Attach(program.Name);

    /// <summary>Counters so far; <paramref name="delivered"/> is what the stream wrote.</summary>
    /// <remarks>The poll thread is the only writer of the plain counters; aligned 64-bit reads are atomic.</remarks>
    public TraceCounters Counters(ulong delivered, bool final = false)
    {
        if (!_disposed && _hasLostMap && !_readerStopped)
        {
            _lostKernel = _lostMap.SumPerCpuCounter();
        }

        return new TraceCounters
        {
            Seen = (ulong)Volatile.Read(ref _seen),
            Delivered = delivered,
            LostKernel = _lostKernel,
            LostAgent = (ulong)(Interlocked.Read(ref _lostAgent) + (_hook?.Dropped ?? 0)),
            FilteredAgent = (ulong)Volatile.Read(ref _filteredAgent),
            Malformed = (ulong)(Volatile.Read(ref _malformed) + (_reader?.CallbackFailures ?? 0)),
            Synthesized = (ulong)Volatile.Read(ref _synthesized),
            Final = final,
        };
    }

    /// <summary>Events lost so far, in the kernel and in the agent.</summary>
    public ulong Lost
    {
        get
        {
            TraceCounters counters = Counters(0);
            return counters.LostKernel + counters.LostAgent;
        }
    }

    /// <summary>Stops reading from the kernel; batches already queued stay readable.</summary>
    public void StopReading() => StopReadingAsync(settle: false, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>
    /// Stops reading from the kernel, then, with <paramref name="settle"/>, lets the gadget report
    /// what was still pending (queries waiting for their response), for at most its settle limit.
    /// The programs stay attached meanwhile, so the kernel still marks what gets answered; the
    /// kernel's loss counter is read when reading stops, so records made after the end count as
    /// no loss. Batches already queued stay readable.
    /// </summary>
    public async Task StopReadingAsync(bool settle, CancellationToken token)
    {
        if (_reader is not null && !_readerStopped)
        {
            _reader.Dispose();
            _lostKernel = _lostMap.SumPerCpuCounter();
            _readerStopped = true;

            // The poll thread is gone: this thread alone builds batches now.
            if (settle && _hook is not null)
            {
                await SettleAsync(_hook, token);
            }

            // Release what waited for a container scan, then hand it over.
            _containers.ReleaseHeld(_release, all: true);
            if (_current.Count > 0)
            {
                HandOver();
            }
        }

        _batches.Writer.TryComplete();
    }

    private async Task SettleAsync(RecordHook hook, CancellationToken token)
    {
        long limit = Environment.TickCount64 + (long)hook.SettleLimit.TotalMilliseconds;
        var due = new List<byte[]>();
        while (true)
        {
            due.Clear();
            bool waiting = hook.Settle(BootClock.BootNanoseconds(), due);
            _synthesized += due.Count;
            foreach (byte[] row in due)
            {
                Classify(row);
            }

            if (!waiting || Environment.TickCount64 >= limit || token.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await Task.Delay(SettleInterval, token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>The stream took a batch off the queue.</summary>
    public void MarkDequeued(RowBatch batch) => Interlocked.Add(ref _queuedEvents, -batch.Count);

    /// <summary>The stream has written (or dropped) a batch it took: it can be reused.</summary>
    public void Recycle(RowBatch batch)
    {
        if (_freeBatches.Count < MaxFreeBatches)
        {
            batch.Reset();
            _freeBatches.Enqueue(batch);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        StopReading();
        _containers.Dispose();
        for (int i = _links.Count - 1; i >= 0; i--)
        {
            _links[i].Dispose();
        }

        _disposed = true;
        if (_pool is not null && _snapshotCompleted)
        {
            // The selection no longer writes the filter maps: the object can serve the next snapshot.
            _pool.Return(_poolKey!, _bpf, _requestMaps);
        }
        else
        {
            _bpf.Dispose();
        }
    }

    void IRingRecordSink.OnRecord(ReadOnlySpan<byte> record)
    {
        _seen++;
        if (_dropWhenFull && Interlocked.Read(ref _queuedEvents) + _current.Count >= _settings.MaxQueuedEvents)
        {
            // The queue is full: the row would be written only to be dropped with its batch.
            Interlocked.Increment(ref _lostAgent);
            return;
        }

        RowWriter row = _current.Begin(_decoder.Schema.FixedSize);
        try
        {
            _decoder.Decode(record, row);
            if (_hook is not null && !_hook.Complete(record, row))
            {
                row.Rollback();
                _filteredAgent++;
                return;
            }
        }
        catch (MalformedRecordException)
        {
            row.Rollback();
            _malformed++;
            return;
        }
        catch
        {
            row.Rollback(); // the ring reader counts the failure; the batch must not keep half a row
            throw;
        }

        if (_containers.HeldCount > 0)
        {
            // Release what the container scan has answered first, so events keep their order.
            byte[] pending = row.Written.ToArray();
            row.Rollback();
            _containers.ReleaseHeld(_release);
            Classify(pending);
            return;
        }

        ulong mountNs = _decoder.MountNs(record);
        switch (_containers.Classify(mountNs, out ContainerRecord? container))
        {
            case ContainerTracker.Verdict.Deliver:
                Announce(container);
                row.Commit();
                HandOverIfFull();
                break;
            case ContainerTracker.Verdict.Filtered:
                row.Rollback();
                _filteredAgent++;
                break;
            case ContainerTracker.Verdict.Held:
                _containers.Hold(mountNs, row.Written.ToArray());
                row.Rollback();
                break;
        }
    }

    void IRingRecordSink.OnDrained()
    {
        if (_containers.HeldCount > 0)
        {
            _containers.ReleaseHeld(_release);
        }

        if (_hook is not null)
        {
            // Rows the hook makes itself (an unanswered query) are selected and labelled like the rest.
            _synthesizedScratch.Clear();
            _hook.Tick(BootClock.BootNanoseconds(), _synthesizedScratch);
            _synthesized += _synthesizedScratch.Count;
            foreach (byte[] synthesized in _synthesizedScratch)
            {
                Classify(synthesized);
            }
        }

        if (_current.Count > 0 && Environment.TickCount64 - _lastHandOverMs >= (long)_settings.PartialBatchInterval.TotalMilliseconds)
        {
            HandOver();
        }
    }

    /// <summary>Decides a whole row made earlier, by the mount namespace in its fixed block.</summary>
    private void Classify(byte[] row)
    {
        ulong mountNs = _rowMountNsOffset >= 0 ? BinaryPrimitives.ReadUInt64LittleEndian(row.AsSpan(_rowMountNsOffset)) : 0;
        ContainerTracker.Verdict verdict = _containers.Classify(mountNs, out ContainerRecord? container);
        if (verdict == ContainerTracker.Verdict.Held)
        {
            _containers.Hold(mountNs, row);
            return;
        }

        Release(row, verdict, container);
    }

    private void Release(byte[] row, ContainerTracker.Verdict verdict, ContainerRecord? container)
    {
        if (verdict == ContainerTracker.Verdict.Deliver)
        {
            Announce(container);
            _current.Append(row);
            HandOverIfFull();
        }
        else
        {
            _filteredAgent++;
        }
    }

    /// <summary>Describes a container to the stream before its first event.</summary>
    private void Announce(ContainerRecord? container)
    {
        if (container is not null && _announced.Add(container.MountNsId))
        {
            _current.Containers.Add(container.ToInfo());
        }
    }

    private void HandOverIfFull()
    {
        if (_current.Count >= _settings.MaxBatchEvents || _current.Length >= _settings.MaxBatchBytes)
        {
            HandOver();
        }
    }

    private void HandOver()
    {
        RowBatch batch = _current;
        _current = _freeBatches.TryDequeue(out RowBatch? free) ? free : new RowBatch();
        _lastHandOverMs = Environment.TickCount64;
        int count = batch.Count;
        if (Interlocked.Read(ref _queuedEvents) + count > _settings.MaxQueuedEvents || !_batches.Writer.TryWrite(batch))
        {
            Interlocked.Add(ref _lostAgent, count);
            foreach (ContainerInfo unannounced in batch.Containers)
            {
                _announced.Remove(unannounced.MntnsId); // describe it again with its next event
            }

            Recycle(batch);
            return;
        }

        Interlocked.Add(ref _queuedEvents, count);
    }

    /// <summary>Fills the pid set of a trace over several processes, once the program is loaded.</summary>
    internal static void FillPidFilter(BpfObject bpf, ProcessFilter? filter)
    {
        if (filter is null || filter.Pids.Append(filter.Pid).Where(p => p != 0).Distinct().Count() < 2)
        {
            return;
        }

        BpfMap map = bpf.GetMap(PidFilterMap);
        foreach (uint pid in filter.Pids.Append(filter.Pid).Where(p => p != 0).Distinct())
        {
            map.Update(pid, (byte)1);
        }
    }
}
