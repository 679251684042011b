using System.Collections.Frozen;
using System.Threading.Channels;

namespace Gadget.Agent.Containers;

/// <summary>
/// Every container on this node, merged from the container sources (containerd, runc), looked
/// up by mount namespace on the hot path. Each source replaces its whole list after a scan; the
/// lookup tables are rebuilt then and swapped atomically, so readers never lock.
/// </summary>
internal sealed class ContainerCollection
{
    private readonly Dictionary<string, IReadOnlyList<ContainerRecord>> _bySource = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly Channel<bool> _refreshRequests = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private volatile FrozenDictionary<ulong, ContainerRecord> _byMountNs = FrozenDictionary<ulong, ContainerRecord>.Empty;
    private readonly TaskCompletionSource _initialScan = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _expectedSources;
    private long _generation;

    /// <summary>Completes once every source has reported its first scan.</summary>
    public Task InitialScan => _initialScan.Task;

    /// <summary>How many sources will report; <see cref="InitialScan"/> waits for all of them.</summary>
    public void ExpectSources(int count) => _expectedSources = count;

    /// <summary>False for a collection no source feeds (a bare trace): every namespace is then the host's.</summary>
    public bool HasSources => _expectedSources > 0;

    /// <summary>Raised (on a source's thread) after the set of containers changed.</summary>
    public event Action? Changed;

    /// <summary>Counts completed scans; a mount namespace still unknown after a newer scan is not a container.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    public IReadOnlyCollection<ContainerRecord> All => _byMountNs.Values;

    public bool TryGetByMountNs(ulong mountNsId, out ContainerRecord container)
        => _byMountNs.TryGetValue(mountNsId, out container!);

    /// <summary>Asks the sources to scan now (an event came from a mount namespace nobody knows yet).</summary>
    public void RequestRefresh() => _refreshRequests.Writer.TryWrite(true);

    /// <summary>Completes when a refresh was requested; sources wait on it between scans.</summary>
    public ValueTask<bool> WaitForRefreshRequestAsync(CancellationToken token) => _refreshRequests.Reader.ReadAsync(token);

    /// <summary>A source's complete current list.</summary>
    public void Replace(string source, IReadOnlyList<ContainerRecord> containers)
    {
        bool changed;
        lock (_gate)
        {
            _bySource.TryGetValue(source, out IReadOnlyList<ContainerRecord>? previous);
            changed = previous is null ? containers.Count > 0 : !previous.SequenceEqual(containers, RecordComparer.Instance);
            _bySource[source] = containers;
            if (changed)
            {
                var byMountNs = new Dictionary<ulong, ContainerRecord>();
                foreach (ContainerRecord container in _bySource.Values.SelectMany(list => list))
                {
                    // A pod's containers may share a mount namespace only with the pause container; keep the first.
                    byMountNs.TryAdd(container.MountNsId, container);
                }

                _byMountNs = byMountNs.ToFrozenDictionary();
            }

            Interlocked.Increment(ref _generation);
            if (_bySource.Count >= _expectedSources)
            {
                _initialScan.TrySetResult();
            }
        }

        if (changed)
        {
            Changed?.Invoke();
        }
    }

    private sealed class RecordComparer : IEqualityComparer<ContainerRecord>
    {
        public static readonly RecordComparer Instance = new();

        public bool Equals(ContainerRecord? x, ContainerRecord? y)
            => x is not null && y is not null && x.Id == y.Id && x.MountNsId == y.MountNsId && x.Pid == y.Pid
               && x.PodName == y.PodName && x.PodNamespace == y.PodNamespace && x.PodLabels.Count == y.PodLabels.Count;

        public int GetHashCode(ContainerRecord obj) => HashCode.Combine(obj.Id, obj.MountNsId);
    }
}
