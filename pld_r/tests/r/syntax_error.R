dataset <- function() {
    list(iris[, 1:4], iris$Species
}
