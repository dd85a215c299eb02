import Testing
@testable import TaipanNN
