using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Threading.Channels;

namespace Gadget.Agent.Containers;

/// <summary>
/// Every container on this node, merged from the container sources (containerd, runc), looked
/// up by mount namespace on the hot path. Each source replaces its whole list after a scan; the
/// lookup tables are rebuilt then and swapped atomically, so readers never lock. Pods from the
/// Kubernetes API complete, by pod uid, what the runtime did not say about a container's pod; a
/// pod that changes rebuilds the tables of its containers the same way.
/// </summary>
internal sealed class ContainerCollection
{
    private readonly Dictionary<string, IReadOnlyList<ContainerRecord>> _bySource = new(StringComparer.Ordinal);
    private Dictionary<string, KubePod> _podsByUid = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Channel<bool>> _refreshRequests = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _scanStarted = new(StringComparer.Ordinal);
    private volatile FrozenDictionary<ulong, ContainerRecord> _byMountNs = FrozenDictionary<ulong, ContainerRecord>.Empty;
    private readonly ConcurrentDictionary<ulong, long> _notContainers = new();
    private readonly TaskCompletionSource _initialScan = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _expectedSources;
    private bool _podsExpected;
    private bool _podsAnswered;

    /// <summary>Completes once every source has reported its first scan (and the first pod list was tried, when pods are expected).</summary>
    public Task InitialScan => _initialScan.Task;

    /// <summary>How many sources will report; <see cref="InitialScan"/> waits for all of them.</summary>
    public void ExpectSources(int count) => _expectedSources = count;

    /// <summary>
    /// Pods will come from the Kubernetes API: <see cref="InitialScan"/> also waits for the first
    /// attempt to list them, so a trace that starts with the agent selects by their labels.
    /// </summary>
    public void ExpectPods() => _podsExpected = true;

    /// <summary>False for a collection no source feeds (a bare trace): every namespace is then the host's.</summary>
    public bool HasSources => _expectedSources > 0;

    /// <summary>Raised (on a source's thread) after the set of containers changed.</summary>
    public event Action? Changed;

    /// <summary>
    /// True when every source has completed a scan that started after <paramref name="timestamp"/>
    /// (a <see cref="System.Diagnostics.Stopwatch"/> timestamp): a mount namespace seen before
    /// then and still unknown is not a container's.
    /// </summary>
    public bool ScannedSince(long timestamp)
    {
        lock (_gate)
        {
            return _scanStarted.Count >= _expectedSources && _scanStarted.Values.All(started => started > timestamp);
        }
    }

    public IReadOnlyCollection<ContainerRecord> All => _byMountNs.Values;

    public bool TryGetByMountNs(ulong mountNsId, out ContainerRecord container)
        => _byMountNs.TryGetValue(mountNsId, out container!);

    /// <summary>How long a verdict of <see cref="RememberNotContainer"/> is trusted by later traces.</summary>
    private static readonly TimeSpan NotContainerMemory = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Remembers that a scan showed <paramref name="mountNsId"/> is no container's (a service's
    /// private namespace, say), so that the next traces need not hold its events for a scan of
    /// their own: without it, every snapshot on a host with such a service waited for one.
    /// </summary>
    public void RememberNotContainer(ulong mountNsId) => _notContainers[mountNsId] = Stopwatch.GetTimestamp();

    /// <summary>
    /// True when a scan showed <paramref name="mountNsId"/> is no container's, lately and since the
    /// containers last changed. The verdict is forgotten after a while and whenever a container
    /// comes or goes, because the kernel gives a dead namespace's number to the next new one: a
    /// container created under it must still wait for the scan that lists it.
    /// </summary>
    public bool IsKnownNotContainer(ulong mountNsId)
        => _notContainers.TryGetValue(mountNsId, out long since) && Stopwatch.GetElapsedTime(since) < NotContainerMemory;

    /// <summary>Asks every source to scan now (an event came from a mount namespace nobody knows yet).</summary>
    public void RequestRefresh()
    {
        lock (_gate)
        {
            foreach (Channel<bool> requests in _refreshRequests.Values)
            {
                requests.Writer.TryWrite(true);
            }
        }
    }

    /// <summary>
    /// Completes when a refresh was requested; each source waits on it between scans. Waiting
    /// does not consume the request (a waiter abandoned for a timer must not swallow the next
    /// one): a source clears its requests with <see cref="TakeRefreshRequests"/> when it scans.
    /// </summary>
    public Task WaitForRefreshRequestAsync(string source, CancellationToken token)
        => RefreshRequests(source).Reader.WaitToReadAsync(token).AsTask();

    /// <summary>Clears a source's pending refresh requests: the scan it starts now answers them.</summary>
    public void TakeRefreshRequests(string source)
    {
        ChannelReader<bool> reader = RefreshRequests(source).Reader;
        while (reader.TryRead(out _))
        {
        }
    }

    private Channel<bool> RefreshRequests(string source)
    {
        lock (_gate)
        {
            if (!_refreshRequests.TryGetValue(source, out Channel<bool>? requests))
            {
                requests = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
                _refreshRequests[source] = requests;
            }

            return requests;
        }
    }

    /// <summary>A source's complete current list, from a scan that started at <paramref name="scanStarted"/>.</summary>
    public void Replace(string source, IReadOnlyList<ContainerRecord> containers, long scanStarted)
    {
        bool changed;
        lock (_gate)
        {
            _bySource.TryGetValue(source, out IReadOnlyList<ContainerRecord>? previous);
            changed = previous is null ? containers.Count > 0 : !previous.SequenceEqual(containers, RecordComparer.Instance);
            _bySource[source] = containers;
            _scanStarted[source] = scanStarted;
            if (changed)
            {
                Rebuild();
            }

            CompleteInitialScanWhenReady();
        }

        if (changed)
        {
            Changed?.Invoke();
        }
    }

    /// <summary>Every pod of this node, after a (re)list: pods missing from it are gone.</summary>
    public void ReplacePods(IEnumerable<KubePod> pods)
    {
        var byUid = pods.ToDictionary(pod => pod.Uid, StringComparer.Ordinal);
        UpdatePods(() =>
        {
            Dictionary<string, KubePod> before = _podsByUid;
            _podsByUid = byUid;
            return ContainerPodUids().Any(uid => !SamePod(before.GetValueOrDefault(uid), byUid.GetValueOrDefault(uid)));
        });
    }

    /// <summary>A pod added or changed.</summary>
    public void SetPod(KubePod pod) => UpdatePods(() =>
    {
        bool same = pod.SameAs(_podsByUid.GetValueOrDefault(pod.Uid));
        _podsByUid[pod.Uid] = pod;
        return !same && ContainerPodUids().Contains(pod.Uid);
    });

    /// <summary>A pod deleted.</summary>
    public void RemovePod(string uid) => UpdatePods(() => _podsByUid.Remove(uid) && ContainerPodUids().Contains(uid));

    /// <summary>The first pod list failed: <see cref="InitialScan"/> waits for it no longer (the list is retried).</summary>
    public void PodListFailed() => UpdatePods(() => false);

    /// <summary>
    /// Applies a change to the pods under the gate; <paramref name="update"/> says whether a
    /// container's pod changed, and only then are the lookup tables rebuilt and traces told.
    /// </summary>
    private void UpdatePods(Func<bool> update)
    {
        bool changed;
        lock (_gate)
        {
            changed = update();
            _podsAnswered = true;
            if (changed)
            {
                Rebuild();
            }

            CompleteInitialScanWhenReady();
        }

        if (changed)
        {
            Changed?.Invoke();
        }
    }

    private IEnumerable<string> ContainerPodUids()
        => _bySource.Values.SelectMany(list => list).Select(container => container.PodUid).Where(uid => uid.Length > 0);

    private static bool SamePod(KubePod? before, KubePod? after) => before is null ? after is null : before.SameAs(after);

    /// <summary>The lookup tables from every source's containers, completed with their pods. Runs under the gate.</summary>
    private void Rebuild()
    {
        var byMountNs = new Dictionary<ulong, ContainerRecord>();
        foreach (ContainerRecord container in _bySource.Values.SelectMany(list => list))
        {
            // A pod's containers may share a mount namespace only with the pause container; keep the first.
            if (!byMountNs.ContainsKey(container.MountNsId))
            {
                byMountNs[container.MountNsId] = container.CompletedWith(_podsByUid.GetValueOrDefault(container.PodUid));
            }
        }

        _byMountNs = byMountNs.ToFrozenDictionary();
        _notContainers.Clear();
    }

    private void CompleteInitialScanWhenReady()
    {
        if (_bySource.Count >= _expectedSources && (!_podsExpected || _podsAnswered))
        {
            _initialScan.TrySetResult();
        }
    }

    private sealed class RecordComparer : IEqualityComparer<ContainerRecord>
    {
        public static readonly RecordComparer Instance = new();

        /// <summary>Every field equal, the labels by their entries (a record compares dictionaries by reference).</summary>
        public bool Equals(ContainerRecord? x, ContainerRecord? y)
            => x is not null && y is not null && x with { PodLabels = y.PodLabels } == y && KubePod.SameEntries(x.PodLabels, y.PodLabels);

        public int GetHashCode(ContainerRecord obj) => HashCode.Combine(obj.Id, obj.MountNsId);
    }
}
