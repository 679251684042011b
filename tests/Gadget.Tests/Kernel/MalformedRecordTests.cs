using Gadget.Agent.Containers;
using Gadget.Agent.Runtime;
using Gadget.Bpf;
using Gadget.Protocol.V1;
using Gadget.Tests.Dns;
using Gadget.Tests.Gadgets;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>
/// Records the ring hands over that the agent cannot read are counted as malformed, in the run's
/// counters, and never thrown out of the poll thread's callback.
/// </summary>
[Collection(KernelTests.Name)]
public sealed class MalformedRecordTests
{
    [KernelFact]
    public void ShortAndUnreadableRecordsAreCountedAsMalformed()
    {
        GadgetDefinitionRun dns = new("dns", new TraceRequest { Gadget = "dns", Parameters = { [Gadget.Agent.Gadgets.Dns.DnsGadget.ResponseTimeoutParameter] = "0" } });
        using TraceRun run = dns.Run;
        byte[] valid = DnsDecoderTests.Record(DnsWire.Query(7, "known.test", DnsWire.TypeA), outgoing: true, cookie: 1, bootNs: 1);
        int minimum = run.Gadget.Tracer.Event.MinimumRecordSize;
        IRingRecordSink sink = run;
        TraceCounters before = run.Counters(delivered: 0); // what the kernel sent before the reader stopped (nothing, almost surely)

        // The ring's thread is gone: this thread stands in for it, with what a broken program could send.
        sink.OnRecord([]);
        sink.OnRecord(valid.AsSpan(0, 1));
        sink.OnRecord(valid.AsSpan(0, minimum - 1));
        sink.OnRecord(DnsDecoderTests.Record([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13], outgoing: true, cookie: 1, bootNs: 2)); // not a DNS message
        sink.OnRecord(valid);
        sink.OnDrained();

        TraceCounters counters = run.Counters(delivered: 0);
        Assert.Equal(5ul, counters.Seen - before.Seen);
        Assert.Equal(4ul, counters.Malformed - before.Malformed);
        // The one good record could not be handed over (the stream's queue closed with the reader):
        // it is lost, so every record is still in exactly one count.
        Assert.Equal((0ul, 1ul), (counters.FilteredAgent - before.FilteredAgent, counters.LostAgent - before.LostAgent));
    }

    [KernelFact]
    public void AShortExecRecordIsMalformedAndTheNextOneIsRead()
    {
        GadgetDefinitionRun exec = new("exec", new TraceRequest { Gadget = "exec" });
        using TraceRun run = exec.Run;
        byte[] record = new RecordBuilder(run.Gadget).Set("proc.pid", 77).SetString("proc.comm", "x").SetString("exe_path", "/bin/x").EndInTail(0).Build();
        IRingRecordSink sink = run;
        TraceCounters before = run.Counters(delivered: 0);

        sink.OnRecord(record.AsSpan(0, run.Gadget.Tracer.Event.MinimumRecordSize - 1));
        sink.OnRecord(record);

        TraceCounters counters = run.Counters(delivered: 0);
        Assert.Equal((2ul, 1ul), (counters.Seen - before.Seen, counters.Malformed - before.Malformed));
    }

    /// <summary>A run started in the kernel whose reader is stopped at once, so that the test feeds it records.</summary>
    private sealed class GadgetDefinitionRun
    {
        public GadgetDefinitionRun(string gadget, TraceRequest request)
        {
            // A process name nothing has: the kernel sends no record of its own.
            request.Filter = new ProcessFilter { Comm = "gt-" + Guid.NewGuid().ToString("N")[..8] };
            Run = TraceRun.Start(TestGadgets.Get(gadget), request, new TraceSettings(), new ContainerCollection());
            Run.StopReading();
        }

        public TraceRun Run { get; }
    }
}
