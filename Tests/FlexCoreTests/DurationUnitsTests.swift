import FlexCore
import Testing

@Suite struct DurationUnitsTests {
    @Test func wholeUnitsTruncateAndSaturate() {
        #expect(Duration.milliseconds(1500).microseconds == 1_500_000)
        #expect(Duration.nanoseconds(1999).microseconds == 1)
        #expect(Duration.seconds(2).nanoseconds == 2_000_000_000)
        #expect(Duration.seconds(-3).unsignedMicroseconds == 0)
        #expect(Duration.seconds(Int64.max).nanoseconds == .max)
        #expect(Duration.seconds(Int64.min).microseconds == .min)
        #expect(Duration.milliseconds(250).milliseconds == 250)
        #expect(Duration.milliseconds(1500).seconds == 1.5)
    }
}

extension DurationUnitsTests {
    @Test func aWireTimeoutRoundsUpSoThatItNeverBecomesNone() {
        #expect(Duration.nanoseconds(1).microsecondsRoundedUp == 1)
        #expect(Duration.microseconds(5).microsecondsRoundedUp == 5)
        #expect(Duration.nanoseconds(5_001).microsecondsRoundedUp == 6)
        #expect(Duration.seconds(Int64.max).microsecondsRoundedUp == .max)
    }
}
