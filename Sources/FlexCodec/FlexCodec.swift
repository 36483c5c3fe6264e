// Placeholder while the codec is written.
internal import CFlexProto
