using System.Management.Automation;
using Gadget.Kubernetes;

namespace Gadget.Commands;

/// <summary>What every cmdlet that can reach a cluster shares: the kubeconfig, and waiting on the client's tasks.</summary>
public abstract class ClusterCmdlet : PSCmdlet, IDisposable
{
    protected const string ClusterParameterSet = "Cluster";

    // One per invocation: PowerShell 7.6's StopToken does the same, but 7.4 lacks it.
    private readonly CancellationTokenSource _stop = new();
    private readonly object _stopGate = new();
    private bool _disposed;

    /// <summary>A kubeconfig file's path, or the kubeconfig's content (runbooks keep it in a variable or a vault).</summary>
    [Parameter(ParameterSetName = ClusterParameterSet)]
    [ValidateNotNullOrEmpty]
    public string? KubeConfig { get; set; }

    /// <summary>The kubeconfig context to use instead of its current one.</summary>
    [Parameter(ParameterSetName = ClusterParameterSet)]
    [ValidateNotNullOrEmpty]
    public string? Context { get; set; }

    /// <summary>Cancelled when the pipeline stops (Ctrl+C, Select-Object -First, a runbook's stop): give it to every wait.</summary>
    protected CancellationToken StopToken => _stop.Token;

    protected override void StopProcessing()
    {
        lock (_stopGate)
        {
            if (!_disposed)
            {
                _stop.Cancel();
            }
        }

        base.StopProcessing();
    }

    public void Dispose()
    {
        // PowerShell disposes a cmdlet once its pipeline is done; a stop may still be arriving.
        lock (_stopGate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _stop.Dispose();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>The cluster of the kubeconfig (KUBECONFIG, ~/.kube/config, -KubeConfig) or, inside a pod, the in-cluster one.</summary>
    private protected KubeCluster OpenCluster()
    {
        try
        {
            return KubeCluster.Open(new KubeConfigSource { KubeConfig = KubeConfig, Context = Context });
        }
        catch (GadgetException exception)
        {
            ThrowTerminatingError(GadgetErrors.ToErrorRecord(exception, KubeConfigTarget()));
            throw; // not reached
        }
    }

    /// <summary>The kubeconfig's path for error records; never its content, which holds credentials.</summary>
    private string KubeConfigTarget()
    {
        if (KubeConfig is { Length: > 0 } given)
        {
            return given.Contains('\n', StringComparison.Ordinal) || given.Contains("apiVersion", StringComparison.Ordinal) ? "-KubeConfig (content)" : given;
        }

        return Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } variable
            ? variable
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config");
    }

    /// <summary>Waits for a client task on the pipeline thread; its failure terminates the command.</summary>
    private protected T Await<T>(Task<T> task, object? target)
    {
        try
        {
            return task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        catch (GadgetException exception)
        {
            ThrowTerminatingError(GadgetErrors.ToErrorRecord(exception, target));
            throw; // not reached
        }
    }
}
