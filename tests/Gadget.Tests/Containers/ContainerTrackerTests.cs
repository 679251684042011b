using System.Diagnostics;
using Gadget.Agent.Containers;
using Xunit;

namespace Gadget.Tests.Containers;

/// <summary>How a trace decides events from mount namespaces no scan has answered for yet.</summary>
public sealed class ContainerTrackerTests
{
    private const ulong ContainerNs = 4026532100;
    private const ulong ServiceNs = 4026532200; // a service's private mount namespace: no container's

    [Fact]
    public void AnEventFromAnUnknownNamespaceWaitsForAScanThatStartedAfterIt()
    {
        ContainerCollection collection = Scanned(Container("c1", ContainerNs));
        var tracker = new ContainerTracker(collection, new ContainerSelection(null));

        Assert.Equal(ContainerTracker.Verdict.Held, tracker.Classify(ServiceNs, out _));
        tracker.Hold(ServiceNs, [1]);
        var released = new List<(ContainerTracker.Verdict Verdict, ContainerRecord? Container)>();
        tracker.ReleaseHeld((_, verdict, container) => released.Add((verdict, container)));
        Assert.Empty(released);

        collection.Replace("runc", [Container("c1", ContainerNs)], Stopwatch.GetTimestamp());
        tracker.ReleaseHeld((_, verdict, container) => released.Add((verdict, container)));

        Assert.Equal([(ContainerTracker.Verdict.Deliver, (ContainerRecord?)null)], released);
        Assert.Equal(ContainerTracker.Verdict.Deliver, tracker.Classify(ServiceNs, out _));
    }

    [Fact]
    public void ALaterTraceTakesWhatAnEarlierOnesScanShowedWithoutWaiting()
    {
        ContainerCollection collection = Scanned(Container("c1", ContainerNs));
        LearnNotContainer(collection, ServiceNs);

        var later = new ContainerTracker(collection, new ContainerSelection(null));
        Assert.Equal(ContainerTracker.Verdict.Deliver, later.Classify(ServiceNs, out ContainerRecord? container));
        Assert.Null(container);

        // A selection of containers only drops it at once, as the host's.
        var onlyContainers = new ContainerTracker(collection, new ContainerSelection(new Gadget.Protocol.V1.ContainerSelector { Containers = true, Container = "c1" }));
        Assert.Equal(ContainerTracker.Verdict.Filtered, onlyContainers.Classify(ServiceNs, out _));
    }

    [Fact]
    public void TheVerdictIsForgottenWhenContainersChange()
    {
        // The kernel gives a dead namespace's number to the next new namespace, which may be a
        // container's that no scan has listed yet: its events must wait for that scan again.
        ContainerCollection collection = Scanned(Container("c1", ContainerNs));
        LearnNotContainer(collection, ServiceNs);

        collection.Replace("runc", [Container("c1", ContainerNs), Container("c2", ContainerNs + 1)], Stopwatch.GetTimestamp());

        var later = new ContainerTracker(collection, new ContainerSelection(null));
        Assert.Equal(ContainerTracker.Verdict.Held, later.Classify(ServiceNs, out _));
    }

    [Fact]
    public void AnEventReleasedUnansweredAtTheEndTeachesLaterTracesNothing()
    {
        ContainerCollection collection = Scanned(Container("c1", ContainerNs));
        var ending = new ContainerTracker(collection, new ContainerSelection(null));
        Assert.Equal(ContainerTracker.Verdict.Held, ending.Classify(ServiceNs, out _));
        ending.Hold(ServiceNs, [1]);
        ending.ReleaseHeld((_, _, _) => { }, all: true);

        var later = new ContainerTracker(collection, new ContainerSelection(null));
        Assert.Equal(ContainerTracker.Verdict.Held, later.Classify(ServiceNs, out _));
    }

    private static void LearnNotContainer(ContainerCollection collection, ulong mountNs)
    {
        var earlier = new ContainerTracker(collection, new ContainerSelection(null));
        Assert.Equal(ContainerTracker.Verdict.Held, earlier.Classify(mountNs, out _));
        earlier.Hold(mountNs, [1]);
        collection.Replace("runc", [.. collection.All], Stopwatch.GetTimestamp());
        earlier.ReleaseHeld((_, _, _) => { });
    }

    private static ContainerCollection Scanned(params ContainerRecord[] containers)
    {
        var collection = new ContainerCollection();
        collection.ExpectSources(1);
        collection.Replace("runc", containers, Stopwatch.GetTimestamp());
        return collection;
    }

    private static ContainerRecord Container(string id, ulong mountNs) => TestContainers.Runc(id, mountNs, $"/system.slice/{id}.scope");
}
