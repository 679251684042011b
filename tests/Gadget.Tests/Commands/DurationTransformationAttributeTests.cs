using System.Management.Automation;
using Gadget.Commands;
using Xunit;

namespace Gadget.Tests.Commands;

/// <summary>-Duration takes what a person types; a bare number means seconds, never ticks.</summary>
public sealed class DurationTransformationAttributeTests
{
    private readonly DurationTransformationAttribute _attribute = new();

    public static TheoryData<object, TimeSpan> Accepted => new()
    {
        { 10, TimeSpan.FromSeconds(10) },
        { 10L, TimeSpan.FromSeconds(10) },
        { 2.5, TimeSpan.FromSeconds(2.5) },
        { 0.25m, TimeSpan.FromMilliseconds(250) },
        { "10", TimeSpan.FromSeconds(10) },
        { "00:01:00", TimeSpan.FromMinutes(1) },
        { "30s", TimeSpan.FromSeconds(30) },
        { "500ms", TimeSpan.FromMilliseconds(500) },
        { "5m", TimeSpan.FromMinutes(5) },
        { "1h", TimeSpan.FromHours(1) },
        { " 1.5S ", TimeSpan.FromSeconds(1.5) },
        { TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(2) },
        { PSObject.AsPSObject(10), TimeSpan.FromSeconds(10) }, // what the binder passes for a typed-in number
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void Accepts(object input, TimeSpan expected)
        => Assert.Equal(expected, _attribute.Transform(null!, input));

    [Theory]
    [InlineData("abc")]
    [InlineData("10 minutes")]
    [InlineData("")]
    [InlineData(true)]
    public void RejectsWhatIsNotADuration(object input)
    {
        var exception = Assert.Throws<ArgumentTransformationMetadataException>(() => _attribute.Transform(null!, input));

        Assert.Contains("is not a duration", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(-2.5)]
    [InlineData("0s")]
    [InlineData("-5m")]
    [InlineData("-00:00:01")]
    public void RejectsZeroAndNegativeDurations(object input)
    {
        var exception = Assert.Throws<ArgumentTransformationMetadataException>(() => _attribute.Transform(null!, input));

        Assert.Contains("must be positive", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsAZeroTimeSpan()
        => Assert.Throws<ArgumentTransformationMetadataException>(() => _attribute.Transform(null!, TimeSpan.Zero));

    public static TheoryData<object> TooLong => new()
    {
        TimeSpan.MaxValue,
        TimeSpan.FromDays(50),
        "50.00:00:00",
        1e300,
        "1e300",
        double.PositiveInfinity,
        long.MaxValue,
    };

    /// <summary>Past the agent's timer limit (49.7 days) a duration is a binding error, not a failure inside the agent.</summary>
    [Theory]
    [MemberData(nameof(TooLong))]
    public void RejectsDurationsPastTheAgentsLimit(object input)
    {
        var exception = Assert.Throws<ArgumentTransformationMetadataException>(() => _attribute.Transform(null!, input));

        Assert.Contains("too long", exception.Message, StringComparison.Ordinal);
        Assert.Contains("49 days", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AcceptsTheLongestDuration()
        => Assert.Equal(DurationTransformationAttribute.MaxDuration, _attribute.Transform(null!, DurationTransformationAttribute.MaxDuration));

    [Fact]
    public void RejectsNaNSeconds()
        => Assert.Throws<ArgumentTransformationMetadataException>(() => _attribute.Transform(null!, "NaN"));
}
