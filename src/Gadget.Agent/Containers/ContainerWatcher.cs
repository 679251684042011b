namespace Gadget.Agent.Containers;

/// <summary>Runs the container sources for the agent's lifetime.</summary>
internal sealed class ContainerWatcher(ContainerCollection collection, AgentOptions options, ILogger<ContainerWatcher> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var containerd = new ContainerdSource(collection, options.ContainerdSocket, logger);
        var runc = new RuncSource(collection, options.RuncRoots, logger);
        collection.ExpectSources(2);
        return Task.WhenAll(
            Task.Run(() => containerd.RunAsync(stoppingToken), stoppingToken),
            Task.Run(() => runc.RunAsync(stoppingToken), stoppingToken));
    }
}

internal static partial class ContainerLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Container source {Source}: {Reason}")]
    public static partial void SourceFailed(ILogger logger, string source, string reason);
}
