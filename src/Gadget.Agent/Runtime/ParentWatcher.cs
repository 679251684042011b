namespace Gadget.Agent.Runtime;

/// <summary>Stops the agent when the process that started it is gone (even if it was killed).</summary>
internal sealed class ParentWatcher(int parentPid, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (!Directory.Exists($"/proc/{parentPid}"))
            {
                lifetime.StopApplication();
                return;
            }
        }
    }
}
