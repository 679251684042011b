using System.Diagnostics;
using Gadget.Tests.Kernel;
using Gadget.Tracing;
using TraceOptions = Gadget.Tracing.TraceOptions;
using Xunit;

namespace Gadget.Tests.Containers;

/// <summary>Real containers, labelled as the kubelet labels pods, traced and selected through a real agent.</summary>
[Collection(KernelTests.Name)]
public sealed class ContainerSelectionTests : IClassFixture<ContainerRuntimeFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly ContainerRuntime _runtime;

    public ContainerSelectionTests(ContainerRuntimeFixture fixture) => _runtime = fixture.Runtime;

    [KernelFact]
    public async Task ListContainersDescribesPodsFromTheKubeletLabels()
    {
        string id = _runtime.Run("my-ns", "my-app", "my-app", "sleep 60", new Dictionary<string, string> { ["app"] = "web" });
        using AgentProcess agent = await AgentProcess.StartAsync();
        using var timeout = new CancellationTokenSource(Timeout);

        IReadOnlyList<GadgetContainer> containers = await agent.Connection.ListContainersAsync(null, "node-a", timeout.Token);

        GadgetContainer container = Assert.Single(containers, c => c.Id == id);
        int pid = ContainerRuntime.PidOf(id);
        Assert.Equal("my-ns", container.Namespace);
        Assert.Equal("my-app", container.Pod);
        Assert.Equal("my-app", container.Container);
        Assert.Equal("containerd", container.Runtime);
        Assert.Equal(ContainerRuntime.RuntimeNamespace, container.RuntimeNamespace);
        Assert.Equal(pid, container.Pid);
        Assert.Equal(MountNamespaceOf(pid), container.MountNsId);
        Assert.Equal("web", container.PodLabels["app"]);
        Assert.DoesNotContain(container.PodLabels.Keys, key => key.StartsWith("io.kubernetes.", StringComparison.Ordinal));
        Assert.NotEmpty(container.CgroupPath);

        IReadOnlyList<GadgetContainer> selected = await agent.Connection.ListContainersAsync(
            new ContainerSelection { Containers = true, Labels = new Dictionary<string, string> { ["app"] = "db" } }, "node-a", timeout.Token);
        Assert.DoesNotContain(selected, c => c.Id == id);
        _runtime.Remove(id);
    }

    [KernelFact]
    public async Task NamespaceSelectionShowsOnlyThatNamespaceAndFiltersTheOthersInTheKernel()
    {
        // Both pods exec a process every 100 ms, each with its own marker.
        string mine = _runtime.Run("my-ns", "my-app", "my-app", "while true; do /bin/true mine-marker; sleep 0.1; done");
        string other = _runtime.Run("other-ns", "other-app", "other-app", "while true; do /bin/true other-marker; sleep 0.1; done");
        using AgentProcess agent = await AgentProcess.StartAsync();
        var options = new TraceOptions
        {
            Gadget = "exec",
            Duration = TimeSpan.FromSeconds(3),
            Containers = new ContainerSelection { Containers = true, Namespaces = ["my-ns"] },
        };

        (List<ExecEvent> events, TraceStatistics statistics) = await ExecTraces.CollectAsync(agent, options);

        Assert.NotEmpty(events);
        Assert.All(events, e =>
        {
            Assert.Equal("my-ns", e.Namespace);
            Assert.Equal("my-app", e.Pod);
            Assert.Equal("my-app", e.Container);
            Assert.Equal(mine, e.ContainerId);
        });
        Assert.Contains(events, e => e.Args.Contains("mine-marker"));
        // other-app exec'd about 2 × 30 processes meanwhile; the kernel dropped them, so they were
        // neither delivered nor read by the agent (only a few host-like namespaces are resolved there).
        Assert.True(statistics.FilteredAgent < 10, $"{statistics.FilteredAgent} events were filtered in the agent, not the kernel.");
        Assert.Equal(statistics.Delivered, (ulong)events.Count);
        _runtime.Remove(mine);
        _runtime.Remove(other);
    }

    [KernelFact]
    public async Task OtherNamespaceShowsNothingOfMyApp()
    {
        string mine = _runtime.Run("my-ns", "my-app", "my-app", "while true; do /bin/true mine-marker; sleep 0.1; done");
        string other = _runtime.Run("other-ns", "other-app", "other-app", "while true; do /bin/true other-marker; sleep 0.1; done");
        using AgentProcess agent = await AgentProcess.StartAsync();
        var options = new TraceOptions
        {
            Gadget = "exec",
            Duration = TimeSpan.FromSeconds(2),
            Containers = new ContainerSelection { Containers = true, Namespaces = ["other-ns"] },
        };

        (List<ExecEvent> events, _) = await ExecTraces.CollectAsync(agent, options);

        Assert.NotEmpty(events);
        Assert.All(events, e => Assert.Equal("other-app", e.Pod));
        Assert.DoesNotContain(events, e => e.Args.Contains("mine-marker"));
        _runtime.Remove(mine);
        _runtime.Remove(other);
    }

    [KernelFact]
    public async Task AContainerStartedDuringTheTraceHasItsFirstExecCapturedAndLabelled()
    {
        using AgentProcess agent = await AgentProcess.StartAsync();
        string marker = $"first-{Guid.NewGuid():N}";
        var options = new TraceOptions
        {
            Gadget = "exec",
            Duration = TimeSpan.FromSeconds(6),
            Containers = new ContainerSelection { Containers = true, Namespaces = ["late-ns"] },
        };
        using var timeout = new CancellationTokenSource(Timeout);
        using var session = TraceSession.Start(agent.Connection, options, "node-a", timeout.Token);
        await session.Attached.WaitAsync(timeout.Token);
        string id = _runtime.Run("late-ns", "late-app", "late-app", $"echo {marker}; sleep 30");

        var events = new List<ExecEvent>();
        while (!session.IsCompleted)
        {
            if (session.TryTake(out object? item, TimeSpan.FromMilliseconds(200), timeout.Token) && item is ExecEvent exec)
            {
                events.Add(exec);
            }
        }

        // The container's first exec is runc starting the command: sh -c 'echo <marker>; sleep 30'.
        ExecEvent first = Assert.Single(events, e => e.Args.Any(arg => arg.Contains(marker, StringComparison.Ordinal)));
        Assert.Equal("late-ns", first.Namespace);
        Assert.Equal("late-app", first.Pod);
        Assert.Equal(id, first.ContainerId);
        Assert.Equal(ContainerRuntime.PidOf(id), first.Pid);
        _runtime.Remove(id);
    }

    [KernelFact]
    public async Task HostOnlyExcludesContainers()
    {
        string mine = _runtime.Run("my-ns", "my-app", "my-app", "while true; do /bin/true mine-marker; sleep 0.1; done");
        using AgentProcess agent = await AgentProcess.StartAsync();
        string marker = $"host-{Guid.NewGuid():N}";
        var options = new TraceOptions { Gadget = "exec", Duration = TimeSpan.FromSeconds(2), Containers = ContainerSelection.HostOnly };

        (List<ExecEvent> events, _) = await ExecTraces.CollectAsync(agent, options, whileTracing: () => HostProcess.Run("/bin/true", marker));

        Assert.Contains(events, e => e.Args.Contains(marker) && e.Pod is null && e.Namespace is null);
        Assert.DoesNotContain(events, e => e.Pod is not null || e.Args.Contains("mine-marker"));
        _runtime.Remove(mine);
    }

    private static ulong MountNamespaceOf(int pid)
    {
        var start = new ProcessStartInfo("readlink", $"/proc/{pid}/ns/mnt") { RedirectStandardOutput = true };
        using Process readlink = Process.Start(start)!;
        string link = readlink.StandardOutput.ReadToEnd().Trim();
        readlink.WaitForExit();
        return ulong.Parse(link[(link.IndexOf('[', StringComparison.Ordinal) + 1)..^1], System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>One containerd for all the container tests of a class.</summary>
public sealed class ContainerRuntimeFixture : IDisposable
{
    public ContainerRuntime Runtime { get; } = new();

    public void Dispose() => Runtime.Dispose();
}
