using System.Collections;
using System.Management.Automation;
using Gadget.Connection;
using Gadget.Tracing;

namespace Gadget.Commands;

/// <summary>Get-GadgetContainer: the containers the agent sees, with their pods.</summary>
[Cmdlet(VerbsCommon.Get, "GadgetContainer", DefaultParameterSetName = LocalParameterSet)]
[OutputType(typeof(GadgetContainer))]
public sealed class GetGadgetContainerCommand : GadgetCmdlet
{
    /// <summary>Only pods of these namespaces.</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string[]? Namespace { get; set; }

    /// <summary>Only this pod.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Pod { get; set; }

    /// <summary>Only containers of this name.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Container { get; set; }

    /// <summary>Only pods with all these labels.</summary>
    [Parameter]
    [ValidateNotNull]
    public Hashtable? Selector { get; set; }

    protected override void EndProcessing()
    {
        if (!Local)
        {
            ThrowClusterUnavailable();
        }

        ContainerSelection? selection = ContainerSelectionParameters.Build(this, Namespace, allNamespaces: false, Pod, Container, Selector, hostOnly: false);
        using LocalAgentLease agent = ConnectLocal();
        try
        {
            string node = agent.Connection.GetInfoAsync(PipelineStopToken).GetAwaiter().GetResult().Node;
            foreach (GadgetContainer container in agent.Connection.ListContainersAsync(selection, node, PipelineStopToken).GetAwaiter().GetResult())
            {
                WriteObject(container);
            }
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        catch (GadgetException exception)
        {
            ThrowTerminatingError(GadgetErrors.ToErrorRecord(exception, agent.SocketPath));
        }
    }
}
