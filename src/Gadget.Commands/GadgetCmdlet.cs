using System.Collections.Concurrent;
using System.Management.Automation;
using Gadget.Connection;

namespace Gadget.Commands;

/// <summary>What every Gadget cmdlet shares: where the agents are, and how failures become ErrorRecords.</summary>
public abstract class GadgetCmdlet : PSCmdlet
{
    protected const string LocalParameterSet = "Local";

    /// <summary>Talk to the agent on this host (started for the command when none runs and the caller is root).</summary>
    /// <remarks>
    /// Not mandatory: without it the cmdlets go to the cluster (KubeConfigNotFound until cluster mode
    /// exists). A mandatory switch would fail binding instead, or prompt for it in an interactive shell.
    /// </remarks>
    [Parameter(ParameterSetName = LocalParameterSet)]
    public SwitchParameter Local { get; set; }

    /// <summary>Connects to the local agent, showing progress while a private agent starts.</summary>
    private protected LocalAgentLease ConnectLocal()
    {
        var messages = new ConcurrentQueue<string>();
        Task<LocalAgentLease> connecting = LocalAgent.ConnectAsync(messages.Enqueue, PipelineStopToken);
        var progress = new ProgressRecord(1, "Gadget", "Connecting to the local agent");
        bool shown = false;
        // Wait on the handle, not Task.Wait: a faulted task must reach the catch blocks below as
        // its own exception (NotRoot, AgentNotFound …), not wrapped in an AggregateException.
        while (!((IAsyncResult)connecting).AsyncWaitHandle.WaitOne(100))
        {
            while (messages.TryDequeue(out string? message))
            {
                progress.StatusDescription = message;
                WriteProgress(progress);
                shown = true;
            }
        }

        if (shown)
        {
            progress.RecordType = ProgressRecordType.Completed;
            WriteProgress(progress);
        }

        try
        {
            return connecting.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        catch (GadgetException exception)
        {
            ThrowTerminatingError(GadgetErrors.ToErrorRecord(exception, target: LocalAgent.SocketPath));
            throw; // not reached: ThrowTerminatingError always throws
        }
    }

    /// <summary>Without -Local the cmdlets reach a cluster through the kubeconfig.</summary>
    private protected void ThrowClusterUnavailable()
    {
        string path = Environment.GetEnvironmentVariable("KUBECONFIG") is { Length: > 0 } variable
            ? variable
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config");
        var exception = new GadgetException(GadgetErrorId.KubeConfigNotFound, GadgetErrorKind.NotSupported,
            File.Exists(path)
                ? $"This version of Gadget traces only this host; cluster mode is not available yet (kubeconfig: {path})."
                : $"No kubeconfig was found at {path}, so there is no cluster to trace.")
        {
            RecommendedAction = "Add -Local to trace this host.",
        };
        ThrowTerminatingError(GadgetErrors.ToErrorRecord(exception, target: path));
    }
}

/// <summary>The one place where client failures become PowerShell errors.</summary>
internal static class GadgetErrors
{
    public static ErrorRecord ToErrorRecord(GadgetException exception, object? target)
    {
        ErrorCategory category = exception.Kind switch
        {
            GadgetErrorKind.Connection => ErrorCategory.ConnectionError,
            GadgetErrorKind.PermissionDenied => ErrorCategory.PermissionDenied,
            GadgetErrorKind.NotFound => ErrorCategory.ObjectNotFound,
            GadgetErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
            GadgetErrorKind.NotSupported => ErrorCategory.NotInstalled,
            _ => ErrorCategory.NotSpecified,
        };
        var record = new ErrorRecord(exception, exception.ErrorId, category, target);
        if (exception.RecommendedAction is not null)
        {
            record.ErrorDetails = new ErrorDetails(exception.Message) { RecommendedAction = exception.RecommendedAction };
        }

        return record;
    }
}
