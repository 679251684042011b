using Gadget.Agent.Containers;
using Gadget.Agent.Decoding;
using Gadget.Agent.Gadgets;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Gadget.Schema;

namespace Gadget.Agent.Runtime;

/// <summary>
/// One running top gadget for one client: the loaded object, its links, and the hash map the
/// programs count into. The kernel does the counting; every interval <see cref="DrainWindow"/>
/// reads and empties the map and makes each entry a row through the same decoder, selection and
/// container labels as a trace's records, so a top's rows carry pods like any event. Disposing
/// detaches the links before it closes the object.
/// </summary>
internal sealed class TopRun : IDisposable
{
    /// <summary>The shortest window a request may ask for: each window costs a pass over the map.</summary>
    public static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest window: a day.</summary>
    public static readonly TimeSpan MaxInterval = TimeSpan.FromDays(1);

    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(1);

    /// <summary>How long the end of a window waits for a container scan to name a mount namespace it has not seen.</summary>
    private static readonly TimeSpan HeldWait = TimeSpan.FromMilliseconds(500);

    /// <summary>The ring every program of common.h declares; a top never writes to it, so it gets the smallest size.</summary>
    private const string UnusedRing = "events";

    private readonly BpfObject _bpf;
    private readonly List<BpfLink> _links = [];
    private readonly RecordDecoder _decoder;
    private readonly RecordHook? _hook;
    private readonly ContainerTracker _containers;
    private readonly HashSet<ulong> _announced = [];
    private readonly Action<byte[], ContainerTracker.Verdict, ContainerRecord?> _release;
    private readonly MapEntrySink _sink;
    private readonly byte[] _record;
    private readonly int _keySize;
    private HashMapDrainer? _drainer;
    private BpfMap? _lostMap;
    private RowBatch _window = new();
    private long _seen;
    private long _filteredAgent;
    private long _malformed;
    private ulong _lostKernel;
    private bool _disposed;

    private TopRun(GadgetDefinition gadget, MapIteratorInfo top, BpfObject bpf, TraceRequest request, ContainerTracker containers)
    {
        Gadget = gadget;
        _bpf = bpf;
        _decoder = new RecordDecoder(gadget.Schema, top.Record.Size);
        _hook = gadget.Hook?.CreateRecordHook(request, gadget.Schema, bpf);
        _containers = containers;
        _release = Release;
        _sink = OnEntry;
        _keySize = top.KeySize;
        _record = new byte[top.KeySize + top.ValueSize];
    }

    public GadgetDefinition Gadget { get; }

    /// <summary>What the rows hold; the stream sends it first.</summary>
    public TraceSchema Schema => Gadget.Schema;

    /// <summary>Whether windows are read in batches (false: key by key, as on a kernel that refuses batches for the map).</summary>
    internal bool DrainsInBatches
    {
        get => _drainer?.UsesBatches ?? false;
        set => _drainer!.UsesBatches = value;
    }

    /// <summary>A notice for the user at the start (the selection matches no container yet), or null.</summary>
    public string? StartNotice => _containers.MatchesNothingYet
        ? $"No container matches the selection ({_containers.SelectionText}) yet; the top keeps watching for one."
        : null;

    /// <summary>Loads, configures and attaches the gadget's programs; the counting starts at once.</summary>
    public static TopRun Start(GadgetDefinition gadget, TraceRequest request, TraceSettings settings, ContainerCollection containers)
    {
        MapIteratorInfo top = gadget.Top ?? throw new InvalidOperationException($"Gadget '{gadget.Name}' is not a top.");
        GadgetParameters.CheckKnown(request, gadget);
        KernelFilesystems.EnsureMounted();
        GadgetObjectInfo info = gadget.ReadObjectInfo();
        BpfObject bpf = BpfObject.Open(gadget.Program, gadget.Name, new BpfOpenOptions { KernelBtfPath = settings.KernelBtfPath });
        TopRun? run = null;
        try
        {
            var selection = new ContainerSelection(request.Selector);
            ProgramConventions conventions = ProgramConventions.Of(gadget, bpf);
            conventions.SetProcessFilter(bpf, request.Filter);
            if (conventions.FilterFlag is string filterFlag)
            {
                bpf.SetConstant(filterFlag, selection.IsFiltering);
            }
            if (info.Maps.Contains(UnusedRing))
            {
                bpf.SetMaxEntries(UnusedRing, (uint)Environment.SystemPageSize);
            }

            GadgetParameters.SetProgramParameters(bpf, request, gadget);
            gadget.Hook?.Configure(bpf, request);
            run = new TopRun(gadget, top, bpf, request, new ContainerTracker(containers, selection));
            bpf.Load();
            run._hook?.OnLoaded(bpf);
            TraceRun.FillPidFilter(bpf, request.Filter);
            if (conventions.FilterMap is string filterMap)
            {
                run._containers.Attach(bpf.GetMap(filterMap), presenceSelects: conventions.FilterMapByPresence);
            }

            run._drainer = new HashMapDrainer(bpf.GetMap(top.MapName), top.KeySize, top.ValueSize, top.MaxEntries);
            string lostSamples = top.MapName + "_lost_samples";
            run._lostMap = info.Maps.Contains(lostSamples) ? bpf.GetMap(lostSamples) : null;
            foreach (BpfProgramInfo program in bpf.Programs.Where(p => p.Autoload))
            {
                run._links.Add(bpf.Attach(program.Name));
            }

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

    /// <summary>
    /// Reads and empties the map: the window that ends now. The rows of the entries selected, in
    /// the kernel's order, with the containers the stream has not described yet; the batch is the
    /// run's own and is reused by the next window, so write it before draining again.
    /// </summary>
    public RowBatch DrainWindow()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _window.Reset();
        _drainer!.Drain(_sink);

        // Rows of mount namespaces nobody knew wait a moment for the container scan, then go as the host's.
        long waitedSince = Environment.TickCount64;
        while (_containers.HeldCount > 0 && Environment.TickCount64 - waitedSince < (long)HeldWait.TotalMilliseconds)
        {
            Thread.Sleep(20);
            _containers.ReleaseHeld(_release);
        }

        _containers.ReleaseHeld(_release, all: true);
        return _window;
    }

    /// <summary>Counters so far; <paramref name="delivered"/> is what the stream wrote.</summary>
    public TraceCounters Counters(ulong delivered, bool final = false)
    {
        if (!_disposed && _lostMap is BpfMap lost)
        {
            _lostKernel = lost.SumPerCpuCounter();
        }

        return new TraceCounters
        {
            Seen = (ulong)Volatile.Read(ref _seen),
            Delivered = delivered,
            LostKernel = _lostKernel,
            FilteredAgent = (ulong)Volatile.Read(ref _filteredAgent),
            Malformed = (ulong)Volatile.Read(ref _malformed),
            Final = final,
        };
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _containers.Dispose();
        for (int i = _links.Count - 1; i >= 0; i--)
        {
            _links[i].Dispose();
        }

        _disposed = true;
        _bpf.Dispose();
    }

    private void OnEntry(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        _seen++;
        key.CopyTo(_record);
        value.CopyTo(_record.AsSpan(_keySize));
        RowWriter row = _window.Begin(_decoder.Schema.FixedSize);
        try
        {
            _decoder.Decode(_record, row);
            if (_hook is not null && !_hook.Complete(_record, row))
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

        ulong mountNs = _decoder.MountNs(_record);
        switch (_containers.Classify(mountNs, out ContainerRecord? container))
        {
            case ContainerTracker.Verdict.Deliver:
                Announce(container);
                row.Commit();
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

    private void Release(byte[] row, ContainerTracker.Verdict verdict, ContainerRecord? container)
    {
        if (verdict == ContainerTracker.Verdict.Deliver)
        {
            Announce(container);
            _window.Append(row);
        }
        else
        {
            _filteredAgent++;
        }
    }

    /// <summary>Describes a container to the stream before its first row.</summary>
    private void Announce(ContainerRecord? container)
    {
        if (container is not null && _announced.Add(container.MountNsId))
        {
            _window.Containers.Add(container.ToInfo());
        }
    }
}
