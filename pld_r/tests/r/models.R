# R functions the pld-r unit tests call.
library(randomForest)

iris.data <- function(n = 150, species = NULL) {
    rows <- iris
    if (!is.null(species)) rows <- rows[rows$Species %in% species, ]
    rows <- head(rows, n)
    list(rows[, 1:4], droplevels(rows$Species))
}

no.target <- function() list(as.matrix(iris[1:5, 1:4]), NULL)

tooth <- function() list(ToothGrowth[, c("supp", "dose")], ToothGrowth$len)

# shuffle = TRUE learns from shuffled labels: a parameter a grid search must reject.
train.forest <- function(x, y, ntree = 100, shuffle = FALSE) {
    set.seed(42)
    if (shuffle) y <- sample(y)
    randomForest(x, as.factor(y), ntree = ntree)
}

train.forest.regressor <- function(x, y, ntree = 100) {
    set.seed(42)
    randomForest(x, y, ntree = ntree)
}

train.lm <- function(x, y) {
    frame <- as.data.frame(x)
    frame$target <- y
    lm(target ~ ., data = frame)
}

lm.r.squared <- function(model) summary(model)$r.squared

chatty <- function() {
    message("a message from R")
    warning("a warning from R")
    print("printed by R")
    list(as.matrix(iris[1:3, 1:4]), iris$Species[1:3])
}

boom <- function(...) stop("boom")
