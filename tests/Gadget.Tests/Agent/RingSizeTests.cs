using Gadget.Agent.Runtime;
using Xunit;

namespace Gadget.Tests.Agent;

/// <summary>A trace's ring is its gadget's own size, made a size the kernel takes and kept within the agent's bound.</summary>
public sealed class RingSizeTests
{
    private static readonly uint Page = (uint)Environment.SystemPageSize;

    [Theory]
    [InlineData(1u << 20, 1u << 20)]
    [InlineData(4u << 20, 4u << 20)]
    [InlineData((256u << 10) + 1, 512u << 10)] // rounded up to a power of two
    [InlineData(1u << 30, RingSize.Maximum)]    // capped
    [InlineData(uint.MaxValue, RingSize.Maximum)]
    public void TheDeclaredSizeIsRoundedAndCapped(uint declared, uint expected)
        => Assert.Equal(expected, RingSize.For(declared));

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(100u)]
    public void ARingIsAtLeastAPage(uint declared)
        => Assert.Equal(Page, RingSize.For(declared));

    [Fact]
    public void TheAgentsRingBytesOptionSizesEveryTrace()
    {
        Assert.Equal(16u << 20, RingSize.For(1u << 20, overridden: 16u << 20));
        Assert.Equal(Page, RingSize.For(8u << 20, overridden: 1000));
        Assert.Equal(Page * 4, RingSize.For(8u << 20, overridden: (Page * 3) + 1));
    }

    [Fact]
    public void ASmallRingWakesItsReaderBeforeItFills()
    {
        Assert.Equal(256ul << 10, RingSize.WakeupBytes(8u << 20, 256u << 10));
        Assert.Equal(128ul << 10, RingSize.WakeupBytes(512u << 10, 256u << 10));
    }
}
