using Gadget.Tests.Kernel;
using Gadget.Tracing;
using Xunit;
using TraceOptions = Gadget.Tracing.TraceOptions;

namespace Gadget.Tests.Containers;

/// <summary>A container run by runc alone, without containerd: found from runc's state and its bundle's annotations.</summary>
[Collection(KernelTests.Name)]
public sealed class RuncContainerTests
{
    [KernelFact]
    public async Task PlainRuncContainerIsListedAndLabelledFromItsAnnotations()
    {
        string marker = $"runc-{Guid.NewGuid():N}";
        string id = $"gadget-runc-{Guid.NewGuid():N}"[..24];
        using AgentProcess agent = await AgentProcess.StartAsync();
        var options = new TraceOptions
        {
            Gadget = "exec",
            Duration = TimeSpan.FromSeconds(5),
            Containers = new ContainerSelection { Containers = true, Namespaces = ["runc-ns"] },
        };
        RuncContainer? container = null;
        try
        {
            (List<ExecEvent> events, _) = await ExecTraces.CollectAsync(agent, options, whileTracing: () => container = RuncContainer.Start(id, $"echo {marker}; sleep 30", new Dictionary<string, string>
            {
                ["io.kubernetes.pod.namespace"] = "runc-ns",
                ["io.kubernetes.pod.name"] = "runc-pod",
                ["io.kubernetes.container.name"] = "runc-c",
                ["app"] = "plain",
            }));

            ExecEvent first = Assert.Single(events, e => e.Args.Any(arg => arg.Contains(marker, StringComparison.Ordinal)));
            Assert.Equal("runc-ns", first.Namespace);
            Assert.Equal("runc-pod", first.Pod);
            Assert.Equal("runc-c", first.Container);
            Assert.Equal(id, first.ContainerId);
            Assert.Equal("plain", first.PodLabels["app"]);

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            IReadOnlyList<GadgetContainer> containers = await agent.Connection.ListContainersAsync(null, "node-a", timeout.Token);
            GadgetContainer listed = Assert.Single(containers, c => c.Id == id);
            Assert.Equal("runc", listed.Runtime);
            Assert.Equal(first.Pid, listed.Pid);
            Assert.Equal(first.MountNsId, listed.MountNsId);
        }
        finally
        {
            container?.Dispose();
        }
    }
}
