namespace Gadget.Agent.Containers;

/// <summary>Runs the container sources, and the pod source in a cluster, for the agent's lifetime.</summary>
internal sealed class ContainerWatcher(ContainerCollection collection, AgentOptions options, ILogger<ContainerWatcher> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var containerd = new ContainerdSource(collection, options.ContainerdSocket, logger);
        var runc = new RuncSource(collection, options.RuncRoots, logger);
        collection.ExpectSources(2);
        var sources = new List<Task>
        {
            Task.Run(() => containerd.RunAsync(stoppingToken), stoppingToken),
            Task.Run(() => runc.RunAsync(stoppingToken), stoppingToken),
        };
        if (options.KubeApi is KubeApiSettings api && options.NodeName.Length > 0)
        {
            var pods = new PodSource(collection, api, options.NodeName, logger);
            collection.ExpectPods();
            sources.Add(Task.Run(() => pods.RunAsync(stoppingToken), stoppingToken));
        }

        return Task.WhenAll(sources);
    }
}

internal static partial class ContainerLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Container source {Source}: {Reason}")]
    public static partial void SourceFailed(ILogger logger, string source, string reason);
}
