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
    [ArgumentCompleter(typeof(ClusterNameCompleter))]
    public string[]? Namespace { get; set; }

    /// <summary>Only this pod.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ClusterNameCompleter))]
    public string? Pod { get; set; }

    /// <summary>Only containers of this name.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ClusterNameCompleter))]
    public string? Container { get; set; }

    /// <summary>Only pods with all these labels.</summary>
    [Parameter]
    [ValidateNotNull]
    public Hashtable? Selector { get; set; }

    /// <summary>Only the agents of these nodes (cluster mode).</summary>
    [Parameter(ParameterSetName = ClusterParameterSet)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ClusterNameCompleter))]
    public string[]? Node { get; set; }

    /// <summary>Every node's containers; a node that fails is a non-terminating error.</summary>
    private void ListInCluster(ContainerSelection? selection)
    {
        using ClusterAgents cluster = ConnectCluster(Node);
        var listings = cluster.Agents
            .Select(a => (a.Pod.Node, Task: a.Connection.ListContainersAsync(selection, a.Pod.Node, StopToken)))
            .ToList();
        int failed = 0;
        foreach ((string node, Task<IReadOnlyList<GadgetContainer>> listing) in listings)
        {
            try
            {
                foreach (GadgetContainer container in listing.GetAwaiter().GetResult())
                {
                    WriteObject(container);
                }
            }
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }
            catch (GadgetException exception) when (++failed < listings.Count)
            {
                ErrorRecord record = GadgetErrors.ToErrorRecord(exception, node);
                record.ErrorDetails = new ErrorDetails($"Node {node}: {exception.Message}");
                WriteError(record);
            }
            catch (GadgetException exception)
            {
                ThrowTerminatingError(GadgetErrors.ToErrorRecord(exception, node));
            }
        }
    }

    protected override void EndProcessing()
    {
        ContainerSelection? selection = ContainerSelectionParameters.Build(this, Namespace, allNamespaces: false, Pod, Container, Selector, hostOnly: false);
        if (!Local)
        {
            ListInCluster(selection);
            return;
        }

        using LocalAgentLease agent = ConnectLocal();
        try
        {
            string node = agent.Connection.GetInfoAsync(StopToken).GetAwaiter().GetResult().Node;
            foreach (GadgetContainer container in agent.Connection.ListContainersAsync(selection, node, StopToken).GetAwaiter().GetResult())
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
