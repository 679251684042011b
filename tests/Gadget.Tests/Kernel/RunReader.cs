using Gadget.Agent.Decoding;
using Gadget.Agent.Runtime;
using Gadget.Tests.Gadgets;
using Gadget.Tracing;

namespace Gadget.Tests.Kernel;

/// <summary>
/// Reads a trace run in this process the way a client reads its stream: the run's schema first,
/// then each batch as the bytes of the reply that carries it, decoded into typed events.
/// </summary>
internal sealed class RunReader
{
    private readonly TraceRun _run;
    private readonly TraceReplyDecoder _decoder;

    public RunReader(TraceRun run, string node = ClientRows.Node)
    {
        _run = run;
        _decoder = new TraceReplyDecoder(new EventOrigin(node));
        _decoder.Decode(ClientRows.SchemaReply(run.Schema, Gadget.Bpf.BootClock.Now().BootTimeUnixNanoseconds));
    }

    /// <summary>The events of one batch taken off the run's queue; the batch goes back to the run.</summary>
    public GadgetEvent[] Read(RowBatch batch)
    {
        GadgetEvent[] events = ClientRows.Events(_decoder, ClientRows.BatchReply(batch));
        _run.Recycle(batch);
        return events;
    }

    /// <summary>
    /// Reads until an event matches <paramref name="awaited"/> (or <paramref name="timeout"/> passes),
    /// then stops the run and takes everything it had read: the complete record of what it saw.
    /// </summary>
    public async Task<List<T>> ReadUntilAsync<T>(Func<T, bool> awaited, TimeSpan timeout)
        where T : GadgetEvent
    {
        var events = new List<T>();
        using (var cancel = new CancellationTokenSource(timeout))
        {
            try
            {
                while (!events.Any(awaited) && await _run.Batches.WaitToReadAsync(cancel.Token))
                {
                    events.AddRange(Take().OfType<T>());
                }
            }
            catch (OperationCanceledException)
            {
                // Timed out: the caller's assertions say what is missing.
            }
        }

        _run.StopReading();
        events.AddRange(Take().OfType<T>());
        return events;
    }

    /// <summary>Every batch queued now.</summary>
    public List<GadgetEvent> Take()
    {
        var events = new List<GadgetEvent>();
        while (_run.Batches.TryRead(out RowBatch? batch))
        {
            _run.MarkDequeued(batch);
            events.AddRange(Read(batch));
        }

        return events;
    }
}
