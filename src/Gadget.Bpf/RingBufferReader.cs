using System.Runtime.InteropServices;

namespace Gadget.Bpf;

/// <summary>
/// Receives records from a <see cref="RingBufferReader"/> on its poll thread. Both calls must be
/// fast and must not block: the reader is all that stands between the ring and lost records.
/// </summary>
public interface IRingRecordSink
{
    /// <summary>One record. The span points into the ring and is valid only during the call.</summary>
    void OnRecord(ReadOnlySpan<byte> record);

    /// <summary>Called after each drain of the ring: the moment to hand a batch over.</summary>
    void OnDrained();
}

/// <summary>
/// Drains a BPF ring buffer on a dedicated thread. The programs wake the reader only when enough
/// data waits (see gadget_wakeup_bytes in bpf/include/gadget/common.h); the poll timeout bounds
/// the latency of the rest.
/// </summary>
public sealed unsafe class RingBufferReader : IDisposable
{
    private readonly RingBufferHandle _ring;
    private readonly IRingRecordSink _sink;
    private readonly int _pollTimeoutMs;
    private readonly Thread _thread;
    private GCHandle _self;
    private volatile bool _stopping;
    private long _callbackFailures;

    /// <summary>Creates the reader; call <see cref="Start"/> to begin draining.</summary>
    public RingBufferReader(BpfMap ring, IRingRecordSink sink, TimeSpan pollInterval)
    {
        _sink = sink;
        _pollTimeoutMs = Math.Max(1, (int)pollInterval.TotalMilliseconds);
        _self = GCHandle.Alloc(this);
        nint rb = Interop.Libbpf.ring_buffer__new(ring.Fd, &OnSample, (void*)GCHandle.ToIntPtr(_self), null);
        if (rb == 0)
        {
            _self.Free();
            throw BpfException.FromErrno(BpfErrorId.MapFailed, Marshal.GetLastPInvokeError(), $"open ring buffer '{ring.Name}'");
        }

        _ring = new RingBufferHandle(rb);
        _thread = new Thread(Run) { IsBackground = true, Name = $"gadget ring {ring.Name}" };
    }

    /// <summary>Records whose handling threw; they are dropped and counted, never rethrown into libbpf.</summary>
    public long CallbackFailures => Interlocked.Read(ref _callbackFailures);

    public void Start() => _thread.Start();

    /// <summary>Stops the poll thread, drains what is left once, then frees the ring.</summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        if (_thread.IsAlive)
        {
            _thread.Join();
        }

        _ring.Dispose();
        if (_self.IsAllocated)
        {
            _self.Free();
        }
    }

    private void Run()
    {
        nint rb = _ring.DangerousGetHandle();
        while (!_stopping)
        {
            // A timeout returns 0 without draining records that asked not to wake us.
            if (Interop.Libbpf.ring_buffer__poll(rb, _pollTimeoutMs) >= 0)
            {
                _ = Interop.Libbpf.ring_buffer__consume(rb);
            }

            _sink.OnDrained();
        }

        _ = Interop.Libbpf.ring_buffer__consume(rb);
        _sink.OnDrained();
    }

    [UnmanagedCallersOnly]
    private static int OnSample(void* context, void* data, nuint size)
    {
        var reader = (RingBufferReader)GCHandle.FromIntPtr((nint)context).Target!;
        try
        {
            reader._sink.OnRecord(new ReadOnlySpan<byte>(data, (int)size));
        }
        catch
        {
            // Never let an exception unwind through libbpf: count it and go on with the next record.
            Interlocked.Increment(ref reader._callbackFailures);
        }

        return 0;
    }
}
