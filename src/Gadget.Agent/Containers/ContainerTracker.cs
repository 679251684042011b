using System.Diagnostics;
using Gadget.Bpf;
using Gadget.Protocol.V1;

namespace Gadget.Agent.Containers;

/// <summary>
/// One trace's view of the containers: keeps the kernel's mount namespace selection current,
/// decides for each event whether it is selected and which container it belongs to, and holds
/// events from mount namespaces nobody knows yet until a container scan says what they are.
/// Runs on the trace's poll thread, except <see cref="Resync"/>, which the collection calls.
/// </summary>
internal sealed class ContainerTracker : IDisposable
{
    /// <summary>How long an event from an unknown mount namespace waits for the container scan.</summary>
    private static readonly TimeSpan HoldLimit = TimeSpan.FromSeconds(2);

    private readonly ContainerCollection _collection;
    private readonly ContainerSelection _selection;
    private readonly Lock _mapGate = new();
    private readonly Dictionary<ulong, byte> _kernelMap = [];
    private readonly HashSet<ulong> _hostLike = [ProcessNamespaces.HostMountNs];
    private readonly Queue<Held> _held = new();
    private BpfMap? _filterMap;
    private bool _presenceSelects;

    public ContainerTracker(ContainerCollection collection, ContainerSelection selection)
    {
        _collection = collection;
        _selection = selection;
    }

    private readonly record struct Held(ulong MountNs, byte[] Row, long SinceTicks);

    /// <summary>Starts keeping <paramref name="filterMap"/> current (when the selection filters).</summary>
    /// <param name="filterMap">The program's mount namespace selection map.</param>
    /// <param name="presenceSelects">
    /// True for Inspektor Gadget's map (u32 values), where a namespace is selected by being a key and
    /// dropped otherwise; false for Gadget's (u8 values: 1 selected, 0 not; unknown passes).
    /// </param>
    public void Attach(BpfMap filterMap, bool presenceSelects = false)
    {
        if (!_selection.IsFiltering)
        {
            return;
        }

        _filterMap = filterMap;
        _presenceSelects = presenceSelects;
        _collection.Changed += Resync;
        Resync();
    }

    /// <summary>True when nothing known matches the selection (worth a notice).</summary>
    public bool MatchesNothingYet => _selection.IsFiltering && !_selection.IncludesHost && !_collection.All.Any(_selection.Matches);

    public string SelectionText => _selection.Describe();

    /// <summary>Events held for an unknown namespace, for the counters.</summary>
    public int HeldCount => _held.Count;

    public enum Verdict
    {
        Deliver,
        Filtered,
        Held,
    }

    /// <summary>
    /// Decides one event by its mount namespace; <paramref name="container"/> is set for a container's
    /// event. <see cref="Verdict.Held"/>: nobody knows the namespace yet; give the event to
    /// <see cref="Hold"/> and a container scan is asked for.
    /// </summary>
    public Verdict Classify(ulong mountNs, out ContainerRecord? container)
    {
        container = null;
        if (_collection.TryGetByMountNs(mountNs, out ContainerRecord known))
        {
            container = known;
            return _selection.Matches(known) ? Verdict.Deliver : Verdict.Filtered;
        }

        if (_hostLike.Contains(mountNs) || !_collection.HasSources)
        {
            return _selection.IncludesHost ? Verdict.Deliver : Verdict.Filtered;
        }

        if (_collection.IsKnownNotContainer(mountNs))
        {
            // Another trace's scan answered lately: the host's, without waiting for one.
            TakeAsHost(mountNs);
            return _selection.IncludesHost ? Verdict.Deliver : Verdict.Filtered;
        }

        return Verdict.Held;
    }

    /// <summary>Keeps an event (its row) that <see cref="Classify"/> could not decide until a scan can.</summary>
    public void Hold(ulong mountNs, byte[] row)
    {
        _held.Enqueue(new Held(mountNs, row, Stopwatch.GetTimestamp()));
        _collection.RequestRefresh();
    }

    /// <summary>
    /// Releases held events whose namespace is now known, or that waited long enough that a scan
    /// has shown they are not in a container. Calls <paramref name="release"/> for each.
    /// </summary>
    /// <param name="release">Receives each released event with its verdict and container.</param>
    /// <param name="all">Release everything now (the trace is ending), unknown namespaces as the host's.</param>
    public void ReleaseHeld(Action<byte[], Verdict, ContainerRecord?> release, bool all = false)
    {
        int count = _held.Count;
        for (int i = 0; i < count; i++)
        {
            Held held = _held.Dequeue();
            ulong mountNs = held.MountNs;

            // Ask whether a scan answered before looking the namespace up: a scan that completes
            // between the two would otherwise read as "scanned, and not a container".
            bool scanned = _collection.ScannedSince(held.SinceTicks);
            bool answered = all || scanned || Stopwatch.GetElapsedTime(held.SinceTicks) > HoldLimit;
            if (_collection.TryGetByMountNs(mountNs, out ContainerRecord known))
            {
                release(held.Row, _selection.Matches(known) ? Verdict.Deliver : Verdict.Filtered, known);
                continue;
            }

            if (answered || _hostLike.Contains(mountNs))
            {
                if (scanned)
                {
                    _collection.RememberNotContainer(mountNs);
                }

                TakeAsHost(mountNs);
                release(held.Row, _selection.IncludesHost ? Verdict.Deliver : Verdict.Filtered, null);
                continue;
            }

            _held.Enqueue(held);
        }
    }

    /// <summary>Brings the kernel's selection map in line with the known containers.</summary>
    public void Resync()
    {
        lock (_mapGate)
        {
            if (_filterMap is null)
            {
                return;
            }

            var wanted = new Dictionary<ulong, byte>();
            foreach (ulong hostLike in _hostLike.ToArray())
            {
                wanted[hostLike] = _selection.IncludesHost ? (byte)1 : (byte)0;
            }

            foreach (ContainerRecord container in _collection.All)
            {
                wanted[container.MountNsId] = _selection.Matches(container) ? (byte)1 : (byte)0;
            }

            if (_presenceSelects)
            {
                // Only the selected are keys: every other namespace is dropped in the kernel.
                foreach (ulong unselected in wanted.Where(w => w.Value == 0).Select(w => w.Key).ToList())
                {
                    wanted.Remove(unselected);
                }
            }

            foreach (ulong gone in _kernelMap.Keys.Where(key => !wanted.ContainsKey(key)).ToList())
            {
                _filterMap.Value.Delete(gone);
                _kernelMap.Remove(gone);
            }

            foreach ((ulong mountNs, byte selected) in wanted)
            {
                if (!_kernelMap.TryGetValue(mountNs, out byte current) || current != selected)
                {
                    Write(mountNs, selected);
                    _kernelMap[mountNs] = selected;
                }
            }
        }
    }

    /// <summary>Stops writing the kernel's selection map; the map may then be emptied and reused.</summary>
    public void Dispose()
    {
        _collection.Changed -= Resync;
        lock (_mapGate)
        {
            _filterMap = null;
        }
    }

    /// <summary>Not a container: a process in a private mount namespace counts as the host's.</summary>
    private void TakeAsHost(ulong mountNs)
    {
        lock (_mapGate)
        {
            _hostLike.Add(mountNs);
        }

        SetKernel(mountNs, _selection.IncludesHost);
    }

    private void SetKernel(ulong mountNs, bool selected)
    {
        lock (_mapGate)
        {
            if (_filterMap is null)
            {
                return;
            }

            byte value = selected ? (byte)1 : (byte)0;
            if (_presenceSelects && !selected)
            {
                if (_kernelMap.Remove(mountNs))
                {
                    _filterMap.Value.Delete(mountNs);
                }

                return;
            }

            Write(mountNs, value);
            _kernelMap[mountNs] = value;
        }
    }

    private void Write(ulong mountNs, byte selected)
    {
        if (_presenceSelects)
        {
            _filterMap!.Value.Update(mountNs, (uint)selected);
        }
        else
        {
            _filterMap!.Value.Update(mountNs, selected);
        }
    }
}
