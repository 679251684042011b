using System.Runtime.InteropServices;
using Gadget.Agent.Containers;
using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Gadget.Tests.Gadgets;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>The flood gadget in the real kernel: each getppid() of the traced process writes numbered exec events.</summary>
[Collection(KernelTests.Name)]
public sealed partial class FloodTraceTests
{
    [KernelFact]
    public async Task EachCallWritesRecordsNumberedFromZero()
    {
        var request = new TraceRequest { Gadget = "flood", Filter = new ProcessFilter { Pid = (uint)Environment.ProcessId }, Parameters = { ["records-per-call"] = "3" } };
        using TraceRun run = TraceRun.Start(TestGadgets.Get("flood"), request, new TraceSettings(), new ContainerCollection());
        var reader = new RunReader(run);

        Assert.Equal(getppid(), getppid());
        List<ExecEvent> events = await reader.ReadUntilAsync<ExecEvent>(e => e.Args.Count > 1 && e.Args[1] == "5", TimeSpan.FromSeconds(5));

        Assert.Equal(Enumerable.Range(0, 6).Select(i => new[] { "flood", i.ToString(System.Globalization.CultureInfo.InvariantCulture) }), events.Select(e => e.Args.ToArray()));
        Assert.All(events, e => Assert.Equal(("flood", Environment.ProcessId), (e.ExePath, e.Pid)));
    }

    [LibraryImport("libc")]
    private static partial int getppid();
}
