using Gadget.Generator;
using Gadget.Schema;
using Xunit;

namespace Gadget.Tests.Gadgets;

/// <summary>
/// The rules the generator holds every gadget's views to, so a new gadget inherits them: time and
/// process first, pod identity in the pod view, fixed widths within 120 columns, whole headers at 80.
/// </summary>
public sealed class ViewRulesTests
{
    private static readonly ColumnMetadata Time = new("TIME", 12, false, "Timestamp", null, "{0:HH:mm:ss.fff}");
    private static readonly ColumnMetadata Pid = new("PID", 7, true, "Pid", null, null);
    private static readonly ColumnMetadata Comm = new("COMM", 15, false, "Comm", null, null);

    private static ViewMetadata View(params ColumnMetadata[] columns) => new("Gadget.TestEvent", columns);

    [Fact]
    public void AViewOfTimeProcessAndARestColumnPasses()
        => FormatViewWriter.Check(View(Time, Pid, Comm, new("PATH", null, false, "Path", null, null)), "test");

    [Fact]
    public void TheDefaultViewStartsWithTheTime()
    {
        var error = Assert.Throws<InvalidOperationException>(() => FormatViewWriter.Check(View(Pid, Time, Comm), "test"));
        Assert.Contains("start with the time", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PodIdentityBelongsInThePodView()
    {
        var error = Assert.Throws<InvalidOperationException>(() => FormatViewWriter.Check(View(Time, Pid, new("POD", 12, false, "Pod", null, null)), "test"));
        Assert.Contains("view named pod", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OnlyTheLastColumnGoesWithoutAWidth()
    {
        var error = Assert.Throws<InvalidOperationException>(() => FormatViewWriter.Check(View(Time, new("NAME", null, false, "Name", null, null), Pid), "test"));
        Assert.Contains("needs a width", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AViewWiderThan120ColumnsFails()
    {
        // 12 + 7 + 15 + 90 and three spaces between them.
        var error = Assert.Throws<InvalidOperationException>(() => FormatViewWriter.Check(View(Time, Pid, Comm, new("NAME", 90, false, "Name", null, null)), "test"));
        Assert.Contains("takes 127 columns; at most 120", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AHeaderThatAnEightyColumnTerminalWouldCutFails()
    {
        // TIME PID COMM NAME take 75 columns: RCODE would get 4 of its 5 characters.
        ColumnMetadata name = new("NAME", 38, false, "Name", null, null);
        var error = Assert.Throws<InvalidOperationException>(() => FormatViewWriter.Check(View(Time, Pid, Comm, name, new("RCODE", 10, false, "Rcode", null, null)), "test"));
        Assert.Contains("leaves 4 for RCODE", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void APodViewIsMadeFromTheDefaultView()
    {
        ColumnMetadata path = new("PATH", null, false, "Path", null, null);
        IReadOnlyList<ViewMetadata> views = [.. FormatViewWriter.WithPodView([View(Time, Pid, Comm, new("ERR", 7, false, "Error", null, null), path)])];

        Assert.Equal(2, views.Count);
        ViewMetadata pod = views[1];
        Assert.Equal("pod", pod.Name);
        Assert.Equal(["TIME", "NAMESPACE", "POD", "CONTAINER", "ERR", "PATH"], pod.Columns.Select(c => c.Label));
        FormatViewWriter.Check(pod, "test");
    }

    [Fact]
    public void ADeclaredPodViewIsKept()
    {
        ViewMetadata declared = new("pod", [Time, new("POD", 20, false, "Pod", null, null)]);
        Assert.Same(declared, FormatViewWriter.WithPodView([View(Time, Pid), declared]).Last());
    }
}
