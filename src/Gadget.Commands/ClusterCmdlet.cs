using System.Management.Automation;
using System.Net;
using System.Security;
using Gadget.Kubernetes;

namespace Gadget.Commands;

/// <summary>What every cmdlet that can reach a cluster shares: the kubeconfig, and waiting on the client's tasks.</summary>
public abstract class ClusterCmdlet : PSCmdlet, IDisposable
{
    protected const string ClusterParameterSet = "Cluster";

    // One per invocation: PowerShell 7.6's PipelineStopToken does the same, but 7.4 lacks it.
    private readonly CancellationTokenSource _stop = new();
    private readonly object _stopGate = new();
    private bool _disposed;

    /// <summary>
    /// A kubeconfig file's path, or the kubeconfig's content: YAML, JSON or base64 of either (runbooks
    /// keep it in a variable or a vault). The rules that tell them apart are in about_Gadget.
    /// </summary>
    [Parameter(ParameterSetName = ClusterParameterSet)]
    [ValidateNotNullOrEmpty]
    public string? KubeConfig { get; set; }

    /// <summary>The kubeconfig context to use instead of its current one.</summary>
    [Parameter(ParameterSetName = ClusterParameterSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ClusterNameCompleter))]
    public string? Context { get; set; }

    /// <summary>The API server's URL, to connect with -Token instead of a kubeconfig.</summary>
    [Parameter(ParameterSetName = ClusterParameterSet)]
    [ValidateNotNull]
    public Uri? Server { get; set; }

    /// <summary>A bearer token for -Server (a string or a SecureString): an Entra ID access token, a service account token.</summary>
    [Parameter(ParameterSetName = ClusterParameterSet)]
    [ValidateNotNull]
    [SecureStringTransformation]
    public SecureString? Token { get; set; }

    /// <summary>The CA certificate of -Server: a PEM file's path, PEM text, or base64 of PEM (a kubeconfig's certificate-authority-data).</summary>
    [Parameter(ParameterSetName = ClusterParameterSet)]
    [ValidateNotNullOrEmpty]
    public string? CertificateAuthority { get; set; }

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
        KubeConfigSource? source = null;
        try
        {
            source = ClusterSource();
            return KubeCluster.Open(source);
        }
        catch (GadgetException exception)
        {
            // The target is the kubeconfig's path or the server, never content or a token.
            ThrowTerminatingError(GadgetErrors.ToErrorRecord(exception, source?.Description));
            throw; // not reached
        }
    }

    private KubeConfigSource ClusterSource()
    {
        if (Server is not null && (KubeConfig is not null || Context is not null))
        {
            throw new GadgetException(GadgetErrorId.KubeConfigInvalid, GadgetErrorKind.InvalidArgument,
                "-Server (with -Token) and -KubeConfig or -Context are two ways to reach a cluster: give one of them.");
        }

        return new KubeConfigSource
        {
            KubeConfig = KubeConfig,
            Context = Context,
            Server = Server,
            Token = Token is null ? null : new NetworkCredential(string.Empty, Token).Password,
            CertificateAuthority = CertificateAuthority,
        };
    }

    /// <summary>Waits for a client task on the pipeline thread; its failure terminates the command.</summary>
    private protected T Await<T>(Task<T> task, object? target)
    {
        try
        {
            return task.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
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
