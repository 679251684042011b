using Gadget.Agent.Gadgets;
using Gadget.Bpf;

namespace Gadget.Agent.Runtime;

/// <summary>
/// Loaded objects of the built-in snapshots, kept between requests. Loading is most of a
/// snapshot's cost (libbpf parses the kernel's whole BTF for every load, then the verifier runs),
/// while running its iterators again takes a fraction of a millisecond, so a snapshot asked for
/// again with the same configuration takes the object the last one left.
/// </summary>
/// <remarks>
/// Only the agent's own snapshot programs are kept: they keep nothing between runs but the
/// filter maps the agent fills per request, which <see cref="Return"/> empties. Users' programs
/// may keep anything and are loaded anew every time. An object is taken by one request at a time;
/// a second request meanwhile loads its own. Objects unused for <see cref="IdleLifetime"/> are
/// closed.
/// </remarks>
internal sealed class SnapshotObjectPool : IDisposable
{
    /// <summary>How long an unused object stays loaded.</summary>
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromMinutes(2);

    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(30);

    /// <summary>Configurations kept at most; the least recently used goes first.</summary>
    private const int Capacity = 16;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Idle> _idle = new(StringComparer.Ordinal);
    private readonly Timer _sweeper;
    private bool _disposed;

    public SnapshotObjectPool()
    {
        _sweeper = new Timer(_ => Sweep(), null, SweepInterval, SweepInterval);
    }

    private sealed record Idle(BpfObject Object, long ReturnedAt);

    /// <summary>
    /// The pool's key for <paramref name="configured"/> (opened and configured, not loaded), or null
    /// when the gadget's objects are not kept.
    /// </summary>
    public static string? KeyFor(GadgetDefinition gadget, BpfObject configured)
        => gadget.IsSnapshot && !gadget.IsUserProgram ? gadget.Name + ":" + configured.ConfigurationKey() : null;

    /// <summary>Takes the loaded object kept under <paramref name="key"/>, if there is one.</summary>
    public bool TryTake(string key, out BpfObject loaded)
    {
        lock (_gate)
        {
            if (_idle.Remove(key, out Idle? idle))
            {
                loaded = idle.Object;
                Reuses++;
                return true;
            }
        }

        loaded = null!;
        return false;
    }

    /// <summary>
    /// Keeps <paramref name="loaded"/> for the next request of its configuration, its filter maps
    /// (<paramref name="requestMaps"/>) emptied; closes it when that fails or one is kept already.
    /// </summary>
    public void Return(string key, BpfObject loaded, IEnumerable<string> requestMaps)
    {
        try
        {
            foreach (string map in requestMaps.Where(loaded.HasMap))
            {
                loaded.GetMap(map).Clear();
            }
        }
        catch (BpfException)
        {
            loaded.Dispose();
            return;
        }

        BpfObject? surplus = loaded;
        lock (_gate)
        {
            if (!_disposed && !_idle.ContainsKey(key))
            {
                if (_idle.Count >= Capacity)
                {
                    string oldest = _idle.MinBy(entry => entry.Value.ReturnedAt).Key;
                    _idle.Remove(oldest, out Idle? evicted);
                    surplus = evicted!.Object;
                }
                else
                {
                    surplus = null;
                }

                _idle[key] = new Idle(loaded, Environment.TickCount64);
            }
        }

        surplus?.Dispose();
    }

    /// <summary>Closes the objects unused for longer than <see cref="IdleLifetime"/>.</summary>
    internal void Sweep()
    {
        List<BpfObject> expired;
        lock (_gate)
        {
            long now = Environment.TickCount64;
            expired = [];
            foreach ((string key, Idle idle) in _idle.Where(entry => now - entry.Value.ReturnedAt >= (long)IdleLifetime.TotalMilliseconds).ToList())
            {
                _idle.Remove(key);
                expired.Add(idle.Object);
            }
        }

        expired.ForEach(bpf => bpf.Dispose());
    }

    /// <summary>How many requests took a kept object instead of loading their own.</summary>
    public long Reuses { get; private set; }

    /// <summary>How many loaded objects wait for a request.</summary>
    public int IdleCount
    {
        get
        {
            lock (_gate)
            {
                return _idle.Count;
            }
        }
    }

    public void Dispose()
    {
        _sweeper.Dispose();
        List<BpfObject> all;
        lock (_gate)
        {
            _disposed = true;
            all = _idle.Values.Select(idle => idle.Object).ToList();
            _idle.Clear();
        }

        all.ForEach(bpf => bpf.Dispose());
    }
}
