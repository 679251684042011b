using Gadget.Agent.Runtime;
using Gadget.Protocol.V1;
using Xunit;

namespace Gadget.Tests.Kernel;

/// <summary>
/// The capabilities gadget loaded into the real kernel, watching a Python child lower its nice
/// value three times as root (CAP_SYS_NICE, granted), then once as nobody (refused).
/// </summary>
[Collection(KernelTests.Name)]
public sealed class CapabilitiesTraceTests
{
    private const int SetPriority = 141; // x86-64's setpriority, which nice(3) calls
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(10);

    private const string Script = """
        import os
        for _ in range(3):
            os.nice(-1)
        os.setgid(65534)
        os.setuid(65534)
        try:
            os.nice(-1)
        except PermissionError:
            print('refused', flush=True)
        """;

    [KernelFact]
    public async Task ReportsTheCapabilityTheVerdictAndTheSyscall()
    {
        using TraceRun run = PythonChild.Start("capabilities", new TraceRequest { Parameters = { ["capability"] = ((int)Capability.CAP_SYS_NICE).ToString(System.Globalization.CultureInfo.InvariantCulture) } });
        var reader = new RunReader(run);
        (int pid, string[] output) = PythonChild.Run(Script, []);
        List<CapabilitiesEvent> events = [.. (await reader.ReadUntilAsync<CapabilitiesEvent>(e => e.Pid == pid && !e.Granted, EventTimeout)).Where(e => e.Pid == pid)];
        Assert.Equal(["refused"], output);

        Assert.Equal(4, events.Count);
        Assert.All(events, e => Assert.Equal(Capability.CAP_SYS_NICE, e.Capability));
        Assert.All(events[..3], e => Assert.True(e.Granted));
        Assert.All(events[..3], e => Assert.Equal(0u, e.Uid));
        Assert.False(events[3].Granted);
        Assert.Equal(65534u, events[3].Uid);
        Assert.All(events, e => Assert.Equal("python3", e.Comm));
        if (System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.X64)
        {
            Assert.All(events, e => Assert.Equal(SetPriority, e.Syscall));
        }

        Assert.All(events, e => Assert.Equal(UserNs("self"), e.UserNsId));
    }

    [KernelFact]
    public async Task UniqueAndDeniedRunInTheKernel()
    {
        using TraceRun run = PythonChild.Start("capabilities", new TraceRequest { Parameters = { ["unique"] = "true" } });
        var reader = new RunReader(run);
        (int pid, _) = PythonChild.Run(Script, []);
        List<CapabilitiesEvent> events = [.. (await reader.ReadUntilAsync<CapabilitiesEvent>(e => e.Pid == pid && !e.Granted, EventTimeout)).Where(e => e.Pid == pid)];

        // One per (capability, verdict): the three granted nice calls are one event.
        Assert.Single(events, e => e.Capability == Capability.CAP_SYS_NICE && e.Granted);
        Assert.Single(events, e => e.Capability == Capability.CAP_SYS_NICE && !e.Granted);
        Assert.Single(events, e => e.Capability == Capability.CAP_SETUID && e.Granted);
        Assert.Equal(events.Count, events.Select(e => (e.Capability, e.Granted)).Distinct().Count());

        using TraceRun denied = PythonChild.Start("capabilities", new TraceRequest { Parameters = { ["denied"] = "true" } });
        var deniedReader = new RunReader(denied);
        (int second, _) = PythonChild.Run(Script, []);
        List<CapabilitiesEvent> refused = await deniedReader.ReadUntilAsync<CapabilitiesEvent>(e => e.Pid == second, EventTimeout);
        Assert.Single(refused, e => e.Pid == second && e.Capability == Capability.CAP_SYS_NICE);
        Assert.All(refused, e => Assert.False(e.Granted));
    }

    private static uint UserNs(string pid) => uint.Parse(new FileInfo($"/proc/{pid}/ns/user").LinkTarget!.Split('[', ']')[1], System.Globalization.CultureInfo.InvariantCulture);
}
